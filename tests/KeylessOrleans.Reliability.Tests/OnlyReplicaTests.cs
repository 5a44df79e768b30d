using KeylessOrleans.TestSupport.Load;
using Xunit.Abstractions;

namespace KeylessOrleans.Reliability.Tests;

/// <summary>The only key server of a tenant dies under load, next to a healthy tenant on the same edges.</summary>
[Collection(nameof(FaultClusterCollection))]
public sealed class OnlyReplicaTests(FaultCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task Killing_the_only_replica_gives_fast_alerts_leaves_other_tenants_alone_and_a_restart_serves_within_fifteen_seconds()
    {
        await using var load = new HandshakeLoad(FaultDrill.Phase(90));
        load.Add("alpha", cluster.Edge1Tls, FaultCluster.AlphaHost, FaultDrill.Clients);
        load.Add("beta", cluster.Edge1Tls, FaultCluster.BetaHost, FaultDrill.Clients);
        await Task.Delay(FaultDrill.Phase(1)); // warm-up, not measured
        var baselineFrom = load.Now;
        await Task.Delay(FaultDrill.Phase(5));
        var killedAt = load.Now;
        await cluster.BetaR1.CrashAsync();
        await Task.Delay(FaultDrill.Phase(5));
        var restartedAt = load.Now;
        await cluster.BetaR1.RestartAsync();
        var servedAgain = await load.FirstSuccessAfterAsync("beta", restartedAt, TimeSpan.FromSeconds(30)) ?? TimeSpan.MaxValue / 2;
        var samples = await load.StopAsync();

        var alphaBefore = samples.For("alpha").Between(baselineFrom, killedAt).ToList();
        var alphaDuring = samples.For("alpha").Between(killedAt, restartedAt).ToList();
        var betaDuring = samples.For("beta").Between(killedAt + TimeSpan.FromMilliseconds(100), restartedAt).ToList();
        output.WriteLine($"alpha, beta serving:        {alphaBefore.Summary()}");
        output.WriteLine($"alpha, beta's server dead:  {alphaDuring.Summary()}");
        output.WriteLine($"beta, its server dead:      {betaDuring.Summary()}; slowest failure {betaDuring.Where(s => !s.Ok).Select(s => s.Duration.TotalMilliseconds).DefaultIfEmpty().Max():0} ms");
        output.WriteLine($"beta served again {(servedAgain - restartedAt).TotalMilliseconds:0} ms after its key server was started again");
        foreach (var failure in betaDuring.Where(s => !s.Ok).Take(3)) output.WriteLine($"  beta: {failure.Error}");

        // The dead tenant's clients: a TLS alert (internal_error), quickly, every time — never a hang.
        Assert.True(betaDuring.Count > 20, $"too little beta load to judge: {betaDuring.Count}");
        Assert.All(betaDuring.Where(s => !s.Ok), s =>
        {
            Assert.True(s.Duration < TimeSpan.FromSeconds(2), $"a beta client waited {s.Duration} for its alert");
            Assert.Contains("internal error", s.Error);
        });
        Assert.True(betaDuring.FailedShare() > 0.95, "beta kept being served without its key server?");

        // The other tenant: nothing failed, and its slowest handshakes did not get slower.
        Assert.Equal(0, alphaDuring.Count(s => !s.Ok));
        var (p99Before, p99During) = (alphaBefore.DurationPercentileMs(99), alphaDuring.DurationPercentileMs(99));
        Assert.True(p99During <= 1.2 * p99Before + 5, $"alpha p99 went from {p99Before:0.0} ms to {p99During:0.0} ms");

        Assert.True(servedAgain - restartedAt < TimeSpan.FromSeconds(15), $"beta was served again only {servedAgain - restartedAt} after the restart began");
    }
}
