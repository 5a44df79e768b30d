using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// A tiny HTTP/1.1 origin on loopback: answers every request with 200 and a fixed body, then closes. Records
/// the raw bytes each connection began with, so tests can see what the edge forwarded (e.g. a PROXY header).
/// With <c>answerAtEndOfInput</c> it answers only once the edge has closed its sending side (an HTTP/1.0-style
/// server reading to the end): a response then reaches a client only through a half-closed connection.
/// </summary>
public sealed class TestOrigin : IAsyncDisposable
{
    public const string Body = "hello from the origin";

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private readonly bool _answerAtEndOfInput;

    /// <param name="newSocket">Makes the listening socket (e.g. inside a network namespace); default: the test's own loopback.</param>
    /// <param name="answerAtEndOfInput">Answer only after the end of the connection's input, not after the request's headers.</param>
    public TestOrigin(Func<Socket>? newSocket = null, bool answerAtEndOfInput = false)
    {
        _answerAtEndOfInput = answerAtEndOfInput;
        _listener = newSocket?.Invoke() ?? new Socket(SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public ConcurrentQueue<byte[]> Received { get; } = new();

    private int _connections;

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            Interlocked.Increment(ref _connections);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        {
            var received = new List<byte>();
            var buffer = new byte[8192];
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                while (_answerAtEndOfInput || !HasFullRequest(received.ToArray()))
                {
                    var read = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                    if (read == 0) break;
                    received.AddRange(buffer.AsSpan(0, read).ToArray());
                }
                Received.Enqueue(received.ToArray());
                var response = Response;
                await client.SendAsync(Encoding.ASCII.GetBytes(response), SocketFlags.None, timeout.Token);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException) { }
        }
    }

    /// <summary>The whole response to every request.</summary>
    public static string Response => $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {Body.Length}\r\nConnection: close\r\n\r\n{Body}";

    /// <summary>True once the HTTP headers are complete, skipping a PROXY v2 header (its signature contains CRLFCRLF).</summary>
    private static bool HasFullRequest(byte[] received)
    {
        var start = 0;
        if (received.Length >= 16 && received[12] == 0x21 && received.AsSpan(0, 4).SequenceEqual("\r\n\r\n"u8))
            start = 16 + (received[14] << 8 | received[15]);
        return start <= received.Length && Encoding.Latin1.GetString(received, start, received.Length - start).Contains("\r\n\r\n");
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accepting;
    }
}
