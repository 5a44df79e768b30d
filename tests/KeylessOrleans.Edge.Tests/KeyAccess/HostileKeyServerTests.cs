using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests.KeyAccess;

/// <summary>Tenant acme with an honest replica ("primary") and a hostile one ("rogue") that corrupts every signature it returns.</summary>
public sealed class HostileReplicaFixture : EdgeFixture
{
    public SiloPlan.OnPrem RoguePlan { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        RoguePlan = new SiloPlan.OnPrem("acme", "rogue", AcmeKeys.Path) { TamperWithAnswers = true };
        await Cluster.StartSiloAsync(RoguePlan);
        var routes = EdgeServices.GetRequiredService<RouteTable>();
        if (!await Poll.UntilAsync(() => Task.FromResult(routes.Resolve(Host)?.Keys.Keys.All(k => k.Replicas.Contains("rogue")) == true), TimeSpan.FromSeconds(30)))
            throw new TimeoutException("the rogue replica was never routed");
    }
}

/// <summary>
/// A tenant's key server may be hostile. The edge verifies each signature under the served certificate's key before
/// sending it: a corrupted one is never sent, counts against that replica, and the other replica serves the handshake.
/// </summary>
public sealed class HostileKeyServerTests(HostileReplicaFixture edge) : IClassFixture<HostileReplicaFixture>
{
    [Fact]
    public async Task Signatures_that_do_not_verify_are_never_sent_and_the_honest_replica_serves_every_handshake()
    {
        using var meters = new EdgeMeterRecorder(edge, (EdgeMetrics.BadAnswers, "replica"));
        string[][] handshakes =
        [
            ["-tls1_3"], ["-tls1_3"], ["-tls1_3"], ["-tls1_3"],
            ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
            ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
        ];

        foreach (var options in handshakes)
        {
            var result = await edge.SClientAsync(EdgeFixture.Host, options);
            Assert.True(result.Output.Contains(TestOrigin.Body), $"{string.Join(' ', options)}: {result.All}");
        }

        Assert.True(meters.Total(EdgeMetrics.BadAnswers, "rogue") >= 1, string.Join(", ", meters.ByTag(EdgeMetrics.BadAnswers)));
        Assert.Equal(0, meters.Total(EdgeMetrics.BadAnswers, "primary"));
        var health = edge.EdgeServices.GetRequiredService<ReplicaHealth>();
        Assert.Null(health.Latency("acme", "rogue")); // never once a successful call
        Assert.NotNull(health.Latency("acme", "primary"));
    }
}
