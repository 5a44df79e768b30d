using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests.KeyAccess;

/// <summary>
/// Tenant acme with two replicas holding the same keys: an honest one ("primary") and a hostile one ("rogue") that
/// corrupts every signature it returns. One cluster (single-organization mode), so both replicas serve one route.
/// </summary>
public sealed class HostileReplicaFixture : IAsyncLifetime
{
    public TestCertificateAuthority Authority { get; } = new();
    public TestOrigin Origin { get; } = new();
    public TenantKeyFolder Keys { get; private set; } = null!;
    public SiloPlan.Edge EdgePlan { get; } = new(HttpsPort: 0);
    public KeylessTestCluster Cluster { get; private set; } = null!;
    public System.Net.IPEndPoint EndPoint { get; private set; } = null!;
    public IServiceProvider EdgeServices => Cluster.Services(Cluster.Silo(EdgePlan));

    public async Task InitializeAsync()
    {
        Keys = new TenantKeyFolder(Authority, [EdgeFixture.Host]);
        Cluster = await KeylessTestCluster.StartAsync(EdgePlan,
            new SiloPlan.OnPrem("acme", "primary", Keys.Path), new SiloPlan.OnPrem("acme", "rogue", Keys.Path) { TamperWithAnswers = true });
        EndPoint = await Cluster.ServeTenantAsync(new TenantSettings("acme", [EdgeFixture.Host], new OriginEndpoint("127.0.0.1", Origin.Port)), EdgeFixture.Host, keys: 2);
        var routes = EdgeServices.GetRequiredService<RouteTable>();
        if (!await Poll.UntilAsync(() => Task.FromResult(routes.Resolve(EdgeFixture.Host)?.Keys.Keys.All(k => k.Replicas.Count == 2) == true), TimeSpan.FromSeconds(30)))
            throw new TimeoutException("the edge never routed both replicas");
    }

    public Task<ExternalTool.Result> SClientAsync(params string[] options) =>
        ExternalTool.RunAsync("openssl", ["s_client", "-connect", EndPoint.ToString(), "-servername", EdgeFixture.Host, "-ign_eof", .. options],
            standardInput: $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n");

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await Origin.DisposeAsync();
        Keys.Dispose();
        Authority.Dispose();
    }
}

/// <summary>
/// A tenant's key server may be hostile. The edge verifies each signature under the served certificate's key before
/// sending it: a corrupted one is never sent, counts against that replica, and the other replica serves the handshake.
/// </summary>
public sealed class HostileKeyServerTests(HostileReplicaFixture site) : IClassFixture<HostileReplicaFixture>
{
    [Fact]
    public async Task Signatures_that_do_not_verify_are_never_sent_and_the_honest_replica_serves_every_handshake()
    {
        using var meters = new EdgeMeterRecorder(site.EdgeServices, (EdgeMetrics.BadAnswers, "replica"));
        string[][] handshakes =
        [
            ["-tls1_3"], ["-tls1_3"], ["-tls1_3"], ["-tls1_3"],
            ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
            ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
        ];

        foreach (var options in handshakes)
        {
            var result = await site.SClientAsync(options);
            Assert.True(result.Output.Contains(TestOrigin.Body), $"{string.Join(' ', options)}: {result.All}");
        }

        Assert.True(meters.Total(EdgeMetrics.BadAnswers, "rogue") >= 1, string.Join(", ", meters.ByTag(EdgeMetrics.BadAnswers)));
        Assert.Equal(0, meters.Total(EdgeMetrics.BadAnswers, "primary"));
        var health = site.EdgeServices.GetRequiredService<ReplicaHealth>();
        Assert.Null(health.Latency("acme", "rogue")); // never once a successful call
        Assert.NotNull(health.Latency("acme", "primary"));
    }
}
