using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>An edge that lets one client address hold at most four connections.</summary>
public sealed class CappedEdgeFixture() : EdgeFixture(plan => plan with
{
    MaxConnectionsPerClientAddress = ConnectionCapTests.Cap,
    HandshakeTimeout = TimeSpan.FromSeconds(15), // the capped connections finish their handshakes later in the test
});

/// <summary>One client address cannot hold more than its share of the edge's connections.</summary>
public sealed class ConnectionCapTests(CappedEdgeFixture edge) : IClassFixture<CappedEdgeFixture>
{
    public const int Cap = 4;
    private const int Extra = 3;

    [Fact]
    public async Task Connections_over_the_per_address_cap_are_closed_at_once_while_the_others_still_handshake()
    {
        using var meters = new EdgeMeterRecorder(edge, ("keyless.edge.connections.refused", "reason"));
        var held = new List<Socket>();
        try
        {
            for (var i = 0; i < Cap; i++) held.Add(await ConnectAsync(IPAddress.Loopback));
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(edge.Listener.OpenConnections == Cap), TimeSpan.FromSeconds(10)));

            for (var i = 0; i < Extra; i++)
            {
                using var extra = await ConnectAsync(IPAddress.Loopback);
                var elapsed = await TimeUntilClosedAsync(extra);
                Assert.True(elapsed < TimeSpan.FromSeconds(1), $"the edge kept connection {Cap + i + 1} open for {elapsed}");
            }
            Assert.Equal(Extra, meters.Total("keyless.edge.connections.refused", "per_client_address"));

            // Another address is not affected by this one's cap.
            var (_, other) = await edge.FetchAsync(await ConnectAsync(IPAddress.Parse("127.0.0.2")), SslProtocols.Tls13);
            Assert.StartsWith("HTTP/1.1 200 OK", other);

            // The connections within the cap were never disturbed: they handshake now.
            var responses = await Task.WhenAll(held.Select(socket => edge.FetchAsync(socket, SslProtocols.Tls13)));
            foreach (var (tls, response) in responses)
            {
                Assert.StartsWith("HTTP/1.1 200 OK", response);
                tls.Dispose();
            }
        }
        finally
        {
            foreach (var socket in held) socket.Dispose();
        }

        // Closed connections give their slots back, and the address is forgotten once it has none.
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(edge.Listener.OpenConnections == 0 && edge.Listener.OpenClientAddresses == 0), TimeSpan.FromSeconds(10)),
            $"{edge.Listener.OpenConnections} connections from {edge.Listener.OpenClientAddresses} addresses still open");
        var again = await Task.WhenAll(Enumerable.Range(0, Cap).Select(_ => edge.FetchAsync(SslProtocols.Tls13)));
        Assert.All(again, r => Assert.StartsWith("HTTP/1.1 200 OK", r.Response));
        Assert.Equal(Extra, meters.Total("keyless.edge.connections.refused", "per_client_address"));
    }

    private async Task<Socket> ConnectAsync(IPAddress from)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0)); // all of 127.0.0.0/8 is loopback on Linux
        await socket.ConnectAsync(edge.EdgeEndPoint);
        return socket;
    }

    /// <summary>How long until the edge closes (or resets) a connection on which we send nothing.</summary>
    private static async Task<TimeSpan> TimeUntilClosedAsync(Socket socket)
    {
        var clock = Stopwatch.StartNew();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            while (await socket.ReceiveAsync(new byte[256], SocketFlags.None, limit.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // A reset is a close too.
        }
        catch (OperationCanceledException)
        {
        }
        return clock.Elapsed;
    }
}
