using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// The origin behind every server under test: answers "/bulk" with <see cref="BulkBytes"/> bytes (for throughput)
/// and anything else with a short body, then closes. Plain HTTP/1.1 on loopback.
/// </summary>
internal sealed class BulkOrigin : IAsyncDisposable
{
    public const int BulkBytes = 64 * 1024 * 1024;

    private static readonly byte[] Chunk = new byte[64 * 1024];
    private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public BulkOrigin()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                if (_stop.IsCancellationRequested) return;
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private static async Task ServeAsync(Socket client)
    {
        using (client)
        {
            try
            {
                var head = new StringBuilder();
                var buffer = new byte[4096];
                while (!head.ToString().Contains("\r\n\r\n"))
                {
                    var read = await client.ReceiveAsync(buffer, SocketFlags.None);
                    if (read == 0) return;
                    head.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }
                var bulk = head.ToString().StartsWith("GET /bulk", StringComparison.Ordinal);
                var length = bulk ? BulkBytes : 2;
                await client.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"), SocketFlags.None);
                if (!bulk)
                {
                    await client.SendAsync("ok"u8.ToArray(), SocketFlags.None);
                    return;
                }
                for (var sent = 0; sent < BulkBytes; sent += Chunk.Length)
                    await client.SendAsync(Chunk, SocketFlags.None);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // The client went away: nothing to do.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accepting;
    }
}
