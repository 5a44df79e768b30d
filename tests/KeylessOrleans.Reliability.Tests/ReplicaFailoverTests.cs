using KeylessOrleans.TestSupport.Load;
using Xunit.Abstractions;

namespace KeylessOrleans.Reliability.Tests;

/// <summary>
/// Key-server crashes under continuous handshake load (real processes, SIGKILL): a tenant with two replicas
/// barely notices one dying; a tenant with one gets fast alerts, other tenants do not notice, and a restarted
/// key server serves again without anyone touching the edges.
/// </summary>
[Collection(nameof(FaultClusterCollection))]
public sealed class ReplicaFailoverTests(FaultCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task Killing_either_of_two_replicas_under_load_fails_at_most_one_percent_and_recovers_within_five_seconds()
    {
        foreach (var victim in new[] { cluster.AlphaR1, cluster.AlphaR2 })
        {
            await using var load = new HandshakeLoad(FaultDrill.Phase(60));
            load.Add("alpha", cluster.Edge1Tls, FaultCluster.AlphaHost, FaultDrill.Clients);
            load.Add("alpha", cluster.Edge2Tls, FaultCluster.AlphaHost, FaultDrill.Clients);
            await Task.Delay(FaultDrill.Phase(3));
            var killedAt = load.Now;
            await victim.CrashAsync();
            var declaredDead = cluster.UntilDeclaredDeadAsync(victim.Port, FaultDrill.Phase(8));
            await Task.Delay(FaultDrill.Phase(8));
            var samples = await load.StopAsync();
            var dead = await declaredDead;
            output.WriteLine($"membership declared {victim.Name} dead {dead?.TotalMilliseconds:0} ms after the kill");

            var after = samples.Between(killedAt, TimeSpan.MaxValue).ToList();
            var lastFailure = after.Where(s => !s.Ok).Select(s => s.StartedAt + s.Duration).DefaultIfEmpty(killedAt).Max();
            var recovery = lastFailure - killedAt;
            output.WriteLine($"SIGKILL {victim.Name}: before {samples.Between(TimeSpan.Zero, killedAt).Summary()}");
            output.WriteLine($"SIGKILL {victim.Name}: after  {after.Summary()}; all succeeding again {recovery.TotalMilliseconds:0} ms after the kill");
            foreach (var failure in after.Where(s => !s.Ok).Take(5)) output.WriteLine($"  failed at {failure.StartedAt.TotalSeconds:0.000} s: {failure.Error}");

            Assert.True(after.Count > 50, $"too little load to judge: {after.Count} handshakes");
            Assert.True(after.FailedShare() <= 0.01, $"{after.FailedShare():P2} of handshakes failed after killing {victim.Name}\n{cluster.Logs()}");
            Assert.True(recovery <= TimeSpan.FromSeconds(5), $"handshakes failed until {recovery} after the kill");
            // Keyless:Cluster:ProbeTimeout 2 s: about 3 s here (Orleans' default 5 s took about 15 s).
            Assert.True(dead is not null, $"membership had not declared {victim.Name} dead 8 s after the kill");

            // The replica comes back as its supervisor would restart it: same command, same port.
            var restarted = System.Diagnostics.Stopwatch.StartNew();
            await victim.RestartAsync();
            await victim.WaitForRegistrationAsync();
            output.WriteLine($"{victim.Name} restarted and registered in {restarted.ElapsedMilliseconds} ms");
        }
        // The loop killed r2 while r1 was the restarted one: r1 served all of alpha's handshakes then.
    }
}
