using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KeylessOrleans.Cli.Origin;

/// <summary>
/// A minimal plaintext HTTP/1.1 origin for the demo: answers every request with 200 and a short page, then
/// closes the connection. Not a web server: it exists so the demo has something behind the edge.
/// </summary>
internal sealed class DemoOrigin(IPEndPoint endPoint, string body)
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(endPoint);
        listener.Listen(512);
        Console.WriteLine($"origin listening on http://{listener.LocalEndPoint}");
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptAsync(cancellationToken); }
            catch (OperationCanceledException) { break; }
            _ = AnswerAsync(client, cancellationToken);
        }
    }

    private async Task AnswerAsync(Socket client, CancellationToken cancellationToken)
    {
        using (client)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                var request = new StringBuilder();
                var buffer = new byte[4096];
                while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && request.Length < 65536)
                {
                    var read = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                    if (read == 0) return;
                    request.Append(Encoding.Latin1.GetString(buffer, 0, read));
                }
                var payload = Encoding.UTF8.GetBytes(body);
                var head = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n";
                await client.SendAsync(Encoding.ASCII.GetBytes(head).Concat(payload).ToArray(), SocketFlags.None, timeout.Token);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // A client that went away; nothing to answer.
            }
        }
    }
}
