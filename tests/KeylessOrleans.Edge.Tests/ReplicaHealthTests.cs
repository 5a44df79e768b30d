using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>How the edge ranks a tenant's key-server replicas and when it stops sending calls to a dead one.</summary>
public sealed class ReplicaHealthTests
{
    private readonly ManualClock _clock = new();
    private readonly ReplicaHealth _health;
    private static readonly string[] Replicas = ["r1", "r2", "r3"];

    public ReplicaHealthTests() => _health = new ReplicaHealth(_clock);

    [Fact]
    public void Healthy_replicas_of_similar_speed_share_the_load()
    {
        foreach (var r in Replicas) _health.Succeeded("t", r, TimeSpan.FromMilliseconds(2));
        var firsts = Enumerable.Range(0, 30).Select(spread => _health.Order("t", Replicas, spread)[0]).ToList();
        Assert.All(Replicas, r => Assert.Equal(10, firsts.Count(f => f == r)));
    }

    [Fact]
    public void A_recently_failed_replica_goes_last_until_its_penalty_is_over()
    {
        _health.Failed("t", "r1");
        Assert.All(Enumerable.Range(0, 6), spread => Assert.Equal("r1", _health.Order("t", Replicas, spread)[^1]));
        _clock.Advance(ReplicaHealth.Penalty + TimeSpan.FromMilliseconds(1));
        Assert.Contains(Enumerable.Range(0, 6), spread => _health.Order("t", Replicas, spread)[0] == "r1");
    }

    [Fact]
    public void A_clearly_slower_replica_goes_after_the_fast_ones_but_before_failed_ones()
    {
        _health.Succeeded("t", "r1", TimeSpan.FromMilliseconds(80)); // a far site
        _health.Succeeded("t", "r2", TimeSpan.FromMilliseconds(2));
        _health.Failed("t", "r3");
        Assert.All(Enumerable.Range(0, 6), spread => Assert.Equal(["r2", "r1", "r3"], _health.Order("t", Replicas, spread)));
    }

    [Fact]
    public void After_repeated_failures_only_one_probe_per_interval_goes_through_and_a_success_closes_the_circuit()
    {
        for (var i = 0; i < ReplicaHealth.FailuresToOpen - 1; i++) _health.Failed("t", "r1");
        Assert.True(_health.TryAdmit("t", "r1")); // two failures: still open to calls
        _health.Failed("t", "r1");

        Assert.True(_health.TryAdmit("t", "r1"));  // the probe
        Assert.False(_health.TryAdmit("t", "r1")); // everyone else is refused at once
        Assert.True(_health.TryAdmit("t", "r2"));  // other replicas are not affected
        _clock.Advance(ReplicaHealth.ProbeInterval);
        Assert.True(_health.TryAdmit("t", "r1"));
        Assert.False(_health.TryAdmit("t", "r1"));

        _health.Succeeded("t", "r1", TimeSpan.FromMilliseconds(3)); // the replica is back
        Assert.True(_health.TryAdmit("t", "r1"));
        Assert.True(_health.TryAdmit("t", "r1"));
    }

    [Fact]
    public void An_open_circuit_closes_when_the_penalty_runs_out_without_new_failures()
    {
        for (var i = 0; i < ReplicaHealth.FailuresToOpen; i++) _health.Failed("t", "r1");
        Assert.True(_health.TryAdmit("t", "r1"));
        Assert.False(_health.TryAdmit("t", "r1"));
        _clock.Advance(ReplicaHealth.Penalty);
        Assert.True(_health.TryAdmit("t", "r1"));
        Assert.True(_health.TryAdmit("t", "r1"));
    }

    [Fact]
    public void Replicas_of_a_tenant_no_longer_served_are_forgotten()
    {
        _health.Succeeded("t", "r1", TimeSpan.FromMilliseconds(2));
        _health.Succeeded("t", "r2", TimeSpan.FromMilliseconds(2));
        _health.Succeeded("u", "r1", TimeSpan.FromMilliseconds(2));
        _health.Forget("t");
        Assert.Null(_health.Latency("t", "r1"));
        Assert.Null(_health.Latency("t", "r2"));
        Assert.NotNull(_health.Latency("u", "r1"));
    }
}
