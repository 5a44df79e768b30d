using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>Per-tenant TLS policy and connection limits an operator relies on.</summary>
public sealed class TenantPolicyTests(EdgeFixture edge) : IClassFixture<EdgeFixture>
{
    [Fact]
    public async Task Rsa_key_exchange_can_be_switched_off_for_a_tenant()
    {
        var origin = new OriginEndpoint("127.0.0.1", edge.Origin.Port);
        await edge.SetAcmeAsync(new TenantSettings("acme", [EdgeFixture.Host, "*.acme.test"], origin, AllowRsaKeyExchange: false));
        try
        {
            await Assert.ThrowsAnyAsync<AuthenticationException>(() =>
                edge.FetchAsync(SslProtocols.Tls12, [TlsCipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256]));
            var (_, forwardSecret) = await edge.FetchAsync(SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]);
            Assert.StartsWith("HTTP/1.1 200 OK", forwardSecret);
        }
        finally
        {
            await edge.SetAcmeOriginAsync(origin);
        }
        var (_, again) = await edge.FetchAsync(SslProtocols.Tls12, [TlsCipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256]);
        Assert.StartsWith("HTTP/1.1 200 OK", again);
    }

    [Fact]
    public async Task An_idle_connection_is_closed_after_the_idle_timeout()
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(edge.EdgeEndPoint);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = EdgeFixture.Host,
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var read = await tls.ReadAsync(new byte[16], limit.Token); // we send nothing; the edge should give up on us
        Assert.Equal(0, read);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(8)); // IdleTimeout is 3 s
    }
}
