using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Security.Authentication;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// Connections that only handshake (browser preconnects, health checks, <c>openssl s_time</c>) end either with the
/// client's close_notify or with a bare close, often a reset because the client left bytes unread. Both are the
/// normal path of such a connection, so neither costs the edge an exception: a thrown exception per connection is a
/// large part of the CPU of a resumed handshake.
/// </summary>
public sealed class ConnectionEndTests(EdgeFixture edge) : IClassFixture<EdgeFixture>
{
    private const int Connections = 20;

    [Theory]
    [InlineData(SslProtocols.Tls13, true)]
    [InlineData(SslProtocols.Tls13, false)]
    [InlineData(SslProtocols.Tls12, true)]
    [InlineData(SslProtocols.Tls12, false)]
    public async Task A_client_that_leaves_after_the_handshake_costs_the_edge_no_exception(SslProtocols protocol, bool reset)
    {
        await HandshakeAndLeaveAsync(protocol, reset); // the first connection may load types and compile code
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(edge.Listener.OpenConnections == 0), TimeSpan.FromSeconds(10)));
        using var meters = new EdgeMeterRecorder(edge, ("keyless.edge.handshakes", "outcome"));
        var thrown = new List<string>();
        void Count(object? sender, FirstChanceExceptionEventArgs e)
        {
            lock (thrown) thrown.Add($"{e.Exception.GetType().Name}: {e.Exception.Message}");
        }
        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            for (var i = 0; i < Connections; i++) await HandshakeAndLeaveAsync(protocol, reset);
            // The edge ends each connection after the client has left it.
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(edge.Listener.OpenConnections == 0), TimeSpan.FromSeconds(10)));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }
        Assert.Equal(Connections, meters.Total("keyless.edge.handshakes", "ok"));
        // The whole process counts (the test's client and the key server's cluster run in it too): a stray exception
        // of theirs is allowed, one per connection is not.
        lock (thrown) Assert.True(thrown.Count <= Connections / 10, $"{thrown.Count} exceptions for {Connections} connections:\n{string.Join('\n', thrown)}");
    }

    /// <summary>A handshake and nothing else; then close_notify and a close, or a reset (SO_LINGER 0, as a close with bytes unread).</summary>
    private async Task HandshakeAndLeaveAsync(SslProtocols protocol, bool reset)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(edge.EdgeEndPoint);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using (var tls = new SslStream(new NetworkStream(socket, ownsSocket: false)))
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = EdgeFixture.Host,
                EnabledSslProtocols = protocol,
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            }, timeout.Token);
            if (!reset)
            {
                await tls.ShutdownAsync();
                Assert.Equal(0, await tls.ReadAsync(new byte[1], timeout.Token)); // the edge answers with its close_notify
            }
        }
        if (reset) socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }
}
