using System.Net;
using System.Net.Sockets;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>The edge with an origin that answers only at the end of its input, as an HTTP/1.0 server reading to EOF does.</summary>
public sealed class HalfCloseEdgeFixture : EdgeFixture
{
    public TestOrigin EndOfInputOrigin { get; } = new(answerAtEndOfInput: true);

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await SetAcmeOriginAsync(new OriginEndpoint("127.0.0.1", EndOfInputOrigin.Port));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await EndOfInputOrigin.DisposeAsync();
    }
}

/// <summary>
/// A client that sends its request and then close_notify (RFC 8446 §6.1: it closes only its sending side) still gets
/// the whole response, then the edge's close_notify. The origin here answers only after the edge has passed the
/// client's close on to it, so no response reaches the client unless the edge delivers after the close_notify.
/// </summary>
public sealed class HalfCloseTests(HalfCloseEdgeFixture edge) : IClassFixture<HalfCloseEdgeFixture>
{
    private static string Request => $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\n\r\n";

    [Theory]
    [InlineData("NORMAL:-VERS-ALL:+VERS-TLS1.3")]
    [InlineData("NORMAL:-VERS-ALL:+VERS-TLS1.2")]
    public async Task Gnutls_cli_gets_the_response_after_closing_its_side_at_the_end_of_its_input(string priority)
    {
        var result = await ExternalTool.RunAsync("gnutls-cli",
            ["--x509cafile", edge.CaFile, "-p", edge.EdgeEndPoint.Port.ToString(), "--sni-hostname", EdgeFixture.Host,
             "--verify-hostname", EdgeFixture.Host, "--priority", priority, "127.0.0.1"],
            standardInput: Request);
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
        // gnutls-cli reports how the server ended the connection: with its own close_notify, not a bare TCP close.
        Assert.Contains("Peer has closed the GnuTLS connection", result.All);
    }

    /// <summary>
    /// openssl s_client without -ign_eof sends close_notify and shuts down its socket's sending side at the end of its
    /// input, then reads for half a second without printing. So the bytes are watched on the way: a relay between
    /// s_client and the edge records what the edge sends after the client's close.
    /// </summary>
    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public async Task Openssl_s_client_without_ign_eof_is_sent_the_response_and_close_notify_after_its_close(string version)
    {
        using var relay = new ClosingRelay(edge.EdgeEndPoint);
        var result = await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", relay.EndPoint.ToString(), "-servername", EdgeFixture.Host, "-CAfile", edge.CaFile,
             "-verify_return_error", version],
            standardInput: Request);
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("DONE", result.Error);
        var (afterClientClose, records) = await relay.EdgeSideAfterClientCloseAsync();
        // The response (encrypted, so larger) and a close_notify came after the client's close; then the edge closed.
        Assert.True(afterClientClose >= TestOrigin.Response.Length, $"only {afterClientClose} bytes after the client's close");
        if (version == "-tls1_2")
        {
            // TLS 1.2 shows record types: the response as application data, then the alert (close_notify), last.
            Assert.Contains((byte)23, records);
            Assert.Equal(21, records[^1]);
        }
        Assert.Contains(edge.EndOfInputOrigin.Received, r => System.Text.Encoding.ASCII.GetString(r).StartsWith("GET / HTTP/1.1", StringComparison.Ordinal));
    }

    /// <summary>
    /// Relays one connection to the edge and counts the edge's bytes after the client has shut down its sending side
    /// (passed on to the edge as a half-close), with the content types of the records among them.
    /// </summary>
    private sealed class ClosingRelay : IDisposable
    {
        private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
        private readonly Task<(long, byte[])> _run;

        public ClosingRelay(IPEndPoint target)
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(1);
            _run = RunAsync(target);
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

        public async Task<(long Bytes, byte[] RecordTypes)> EdgeSideAfterClientCloseAsync() => await _run.WaitAsync(TimeSpan.FromSeconds(20));

        private async Task<(long, byte[])> RunAsync(IPEndPoint target)
        {
            using var client = await _listener.AcceptAsync();
            using var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await server.ConnectAsync(target);
            var clientClosed = 0; // set once the client's end of stream has been passed on
            long after = 0;
            var stream = new List<byte>();
            var afterStart = -1;
            var toServer = Task.Run(async () =>
            {
                var buffer = new byte[16384];
                try
                {
                    int read;
                    while ((read = await client.ReceiveAsync(buffer, SocketFlags.None)) > 0) await server.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                }
                catch (SocketException)
                {
                    // A reset after the client's close: its end of stream all the same.
                }
                Volatile.Write(ref clientClosed, 1);
                server.Shutdown(SocketShutdown.Send);
            });
            var buffer = new byte[16384];
            int got;
            while ((got = await server.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            {
                if (Volatile.Read(ref clientClosed) == 1)
                {
                    if (afterStart < 0) afterStart = stream.Count;
                    after += got;
                }
                stream.AddRange(buffer.AsSpan(0, got).ToArray());
                try { await client.SendAsync(buffer.AsMemory(0, got), SocketFlags.None); }
                catch (SocketException) { } // s_client stops reading half a second after its close; keep recording
            }
            await toServer;
            return (after, afterStart < 0 ? [] : RecordTypesFrom(stream, afterStart));
        }

        /// <summary>Content types of the records starting at or after <paramref name="from"/>.</summary>
        private static byte[] RecordTypesFrom(List<byte> stream, int from)
        {
            var types = new List<byte>();
            for (var at = 0; at + 5 <= stream.Count; at += 5 + (stream[at + 3] << 8 | stream[at + 4]))
                if (at >= from) types.Add(stream[at]);
            return [.. types];
        }

        public void Dispose() => _listener.Dispose();
    }
}
