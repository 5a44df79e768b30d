using System.Diagnostics;
using System.Security.Authentication;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests.Federation;

/// <summary>
/// A tenant whose own cluster has two replicas holding the same keys, reached through both gateways: when one replica
/// goes away the edge fails over to the other within the key-call deadline, and every handshake is served.
/// </summary>
public sealed class FederatedFailoverTests : IAsyncLifetime
{
    private readonly TestCertificateAuthority _authority = new();
    private readonly TestOrigin _origin = new();
    private readonly SiloPlan.Edge _edge = new(HttpsPort: 0);
    private TenantKeyFolder _keys = null!;
    private KeylessTestCluster _operator = null!;
    private TenantKeyServerHost _primary = null!;
    private TenantKeyServerHost _backup = null!;
    private System.Net.IPEndPoint _endPoint = null!;

    public async Task InitializeAsync()
    {
        _keys = new TenantKeyFolder(_authority, [EdgeFixture.Host]);
        _operator = await KeylessTestCluster.StartAsync(_edge);
        _primary = await TenantKeyServerHost.StartAsync("acme", "primary", _keys.Path);
        _backup = await TenantKeyServerHost.StartAsync("acme", "backup", _keys.Path, join: _primary);
        var tenant = new TenantSettings("acme", [EdgeFixture.Host], new OriginEndpoint("127.0.0.1", _origin.Port),
            KeyServers: [_primary.Endpoint, _backup.Endpoint]);
        _endPoint = await _operator.ServeTenantAsync(tenant, EdgeFixture.Host, keys: 2);
        var routes = _operator.Services(_operator.Silo(_edge)).GetRequiredService<RouteTable>();
        if (!await Poll.UntilAsync(() => Task.FromResult(routes.Resolve(EdgeFixture.Host)?.Keys.Keys.All(k => k.Replicas.Count == 2) == true), TimeSpan.FromSeconds(30)))
            throw new TimeoutException("the edge never admitted both replicas' chains");
    }

    [Fact]
    public async Task When_one_replica_of_the_tenants_cluster_goes_away_the_other_serves_every_handshake_within_the_deadline()
    {
        for (var i = 0; i < 6; i++) await HandshakeAsync();

        await _backup.DisposeAsync();

        for (var i = 0; i < 12; i++)
        {
            var clock = Stopwatch.StartNew();
            await HandshakeAsync();
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2 + 3), $"handshake {i} after the replica left took {clock.Elapsed}");
        }
    }

    private async Task HandshakeAsync()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(_endPoint);
        await using var tls = new System.Net.Security.SslStream(new System.Net.Sockets.NetworkStream(socket, ownsSocket: false));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
        {
            TargetHost = EdgeFixture.Host,
            EnabledSslProtocols = SslProtocols.Tls13,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
        }, timeout.Token);
        Assert.Equal(SslProtocols.Tls13, tls.SslProtocol);
    }

    public async Task DisposeAsync()
    {
        await _operator.DisposeAsync();
        await _backup.DisposeAsync();
        await _primary.DisposeAsync();
        await _origin.DisposeAsync();
        _keys.Dispose();
        _authority.Dispose();
    }
}
