using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Load;
using Xunit.Abstractions;

namespace KeylessOrleans.Reliability.Tests;

/// <summary>The operator's side fails: an edge crashes, Redis restarts. Clients of the other parts notice nothing.</summary>
[Collection(nameof(FaultClusterCollection))]
public sealed class EdgeAndRedisFaultTests(FaultCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task Killing_an_edge_leaves_the_other_edge_serving_every_handshake()
    {
        await using var load = new HandshakeLoad(FaultDrill.Phase(60));
        load.Add("edge2", cluster.Edge2Tls, FaultCluster.AlphaHost, FaultDrill.Clients);
        load.Add("edge2", cluster.Edge2Tls, FaultCluster.BetaHost, FaultDrill.Clients);
        await Task.Delay(FaultDrill.Phase(2));
        var killedAt = load.Now;
        await cluster.Edge1.CrashAsync();
        await Task.Delay(FaultDrill.Phase(8)); // past the membership's death declaration of edge1
        var samples = await load.StopAsync();

        var after = samples.Between(killedAt, TimeSpan.MaxValue).ToList();
        output.WriteLine($"edge2 after SIGKILL of edge1: {after.Summary()}");
        foreach (var failure in after.Where(s => !s.Ok).Take(5)) output.WriteLine($"  {failure.StartedAt.TotalSeconds:0.000} s: {failure.Error}");
        Assert.True(after.Count > 50, $"too little load to judge: {after.Count}");
        Assert.True(after.All(s => s.Ok), $"{after.Count(s => !s.Ok)} handshakes through edge2 failed\n{cluster.Logs()}");

        var restart = System.Diagnostics.Stopwatch.StartNew();
        await cluster.Edge1.RestartAsync();
        await HandshakeLoad.UntilServedAsync(cluster.Edge1Tls, FaultCluster.AlphaHost, TimeSpan.FromSeconds(60));
        output.WriteLine($"edge1 restarted and served again after {restart.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Restarting_redis_keeps_the_running_cluster_serving_and_it_still_takes_changes_afterwards()
    {
        await using var load = new HandshakeLoad(FaultDrill.Phase(60));
        load.Add("edge1", cluster.Edge1Tls, FaultCluster.AlphaHost, FaultDrill.Clients);
        load.Add("edge2", cluster.Edge2Tls, FaultCluster.BetaHost, FaultDrill.Clients);
        await Task.Delay(FaultDrill.Phase(2));
        var stoppedAt = load.Now;
        await cluster.RedisServer.Process.DisposeAsync(); // SIGTERM: Redis writes its append-only file and exits
        await Task.Delay(FaultDrill.Phase(4));
        var restartedAt = load.Now;
        await cluster.RedisServer.StartAsync();
        await Task.Delay(FaultDrill.Phase(4));
        var samples = await load.StopAsync();

        var down = samples.Between(stoppedAt, restartedAt).ToList();
        var back = samples.Between(restartedAt, TimeSpan.MaxValue).ToList();
        output.WriteLine($"Redis down: {down.Summary()}");
        output.WriteLine($"Redis back: {back.Summary()}");
        Assert.True(down.Count > 20 && back.Count > 20, "too little load to judge");
        Assert.True(down.All(s => s.Ok) && back.All(s => s.Ok), $"handshakes failed around the Redis restart\n{cluster.Logs()}");

        // Membership and registry storage work again: the operator can change a tenant and edges follow.
        var changed = await KeylessProcess.RunToEndAsync("tenant", "add", "beta", "--host", FaultCluster.BetaHost, "--host", "www.beta.test",
            "--origin", $"127.0.0.1:{cluster.Origin.Port}", "--clustering", "redis", "--redis", cluster.Redis);
        Assert.True(changed.ExitCode == 0, changed.Output);
        var shown = await KeylessProcess.RunToEndAsync("tenant", "show", "beta", "--clustering", "redis", "--redis", cluster.Redis);
        Assert.Contains("www.beta.test", shown.Output);
    }
}
