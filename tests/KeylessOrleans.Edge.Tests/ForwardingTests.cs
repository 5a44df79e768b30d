using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Security.Authentication;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>What the origin receives, and what the edge offers by ALPN, follow the tenant's origin settings.</summary>
public sealed class ForwardingTests(EdgeFixture edge) : IClassFixture<EdgeFixture>
{
    [Fact]
    public async Task Proxy_protocol_v2_tells_the_origin_the_client_address()
    {
        await edge.SetAcmeOriginAsync(new OriginEndpoint("127.0.0.1", edge.Origin.Port, ProxyProtocol: true));
        try
        {
            while (edge.Origin.Received.TryDequeue(out _)) { }
            var (tls, response) = await edge.FetchAsync(SslProtocols.Tls13);
            Assert.StartsWith("HTTP/1.1 200 OK", response);

            Assert.True(edge.Origin.Received.TryDequeue(out var received));
            byte[] signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
            Assert.Equal(signature, received[..12]);
            Assert.Equal(0x21, received[12]); // v2, PROXY
            Assert.Equal(0x11, received[13]); // TCP over IPv4
            Assert.Equal(new IPAddress(received[16..20]), IPAddress.Loopback);
            Assert.Equal(edge.EdgeEndPoint.Port, BinaryPrimitives.ReadUInt16BigEndian(received.AsSpan(26)));
            Assert.StartsWith("GET / HTTP/1.1", Encoding.ASCII.GetString(received[28..]));
            tls.Dispose();
        }
        finally
        {
            await edge.SetAcmeOriginAsync(new OriginEndpoint("127.0.0.1", edge.Origin.Port));
        }
    }

    [Fact]
    public async Task The_origin_connection_opens_with_the_first_request_not_with_the_handshake()
    {
        // Browser preconnects, health checks and scanners handshake and then send nothing (or leave): like nginx,
        // the edge must not open an origin connection for each of them.
        var before = edge.Origin.Connections;
        using (var idle = await HandshakeOnlyAsync())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.Equal(before, edge.Origin.Connections);

            await idle.WriteAsync("GET / HTTP/1.1\r\nHost: www.acme.test\r\nConnection: close\r\n\r\n"u8.ToArray());
            using var reader = new StreamReader(idle, Encoding.ASCII, leaveOpen: true);
            Assert.StartsWith("HTTP/1.1 200 OK", await reader.ReadToEndAsync());
            Assert.Equal(before + 1, edge.Origin.Connections);
        }

        for (var i = 0; i < 3; i++) (await HandshakeOnlyAsync()).Dispose(); // handshake, then leave
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.Equal(before + 1, edge.Origin.Connections);
    }

    private async Task<SslStream> HandshakeOnlyAsync()
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(edge.EdgeEndPoint);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = EdgeFixture.Host });
        return tls;
    }

    [Fact]
    public async Task H2_is_offered_only_when_the_origin_speaks_it()
    {
        var plain = await AlpnAsync();
        Assert.Contains("ALPN protocol: http/1.1", plain.All);

        await edge.SetAcmeOriginAsync(new OriginEndpoint("127.0.0.1", edge.Origin.Port, Http2: true));
        try
        {
            var h2 = await AlpnAsync();
            Assert.Contains("ALPN protocol: h2", h2.All);
        }
        finally
        {
            await edge.SetAcmeOriginAsync(new OriginEndpoint("127.0.0.1", edge.Origin.Port));
        }
    }

    private Task<ExternalTool.Result> AlpnAsync() =>
        ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", edge.EdgeEndPoint.ToString(), "-servername", EdgeFixture.Host, "-CAfile", edge.CaFile, "-alpn", "h2,http/1.1"],
            standardInput: "");

    [Fact]
    public async Task An_unreachable_origin_closes_the_client_cleanly()
    {
        var closedPort = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closedPort.Start();
        var port = ((IPEndPoint)closedPort.LocalEndpoint).Port;
        closedPort.Stop();

        await edge.SetAcmeOriginAsync(new OriginEndpoint("127.0.0.1", port));
        try
        {
            var (tls, response) = await edge.FetchAsync(SslProtocols.Tls13);
            Assert.Equal("", response); // handshake done, then close_notify: an empty, clean end of stream
            tls.Dispose();
        }
        finally
        {
            await edge.SetAcmeOriginAsync(new OriginEndpoint("127.0.0.1", edge.Origin.Port));
        }
        var (_, again) = await edge.FetchAsync(SslProtocols.Tls13);
        Assert.StartsWith("HTTP/1.1 200 OK", again);
    }
}
