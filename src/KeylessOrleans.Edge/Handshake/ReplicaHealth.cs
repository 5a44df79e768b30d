using System.Collections.Concurrent;

namespace KeylessOrleans.Edge.Handshake;

/// <summary>
/// What this edge has seen of each key-server replica: when it last failed and how fast it answers. Replicas
/// that failed recently go to the back of the line for a while, so one dead replica costs one failed attempt,
/// not one per handshake; among healthy replicas the clearly slower ones (a far site, a busy HSM) go after
/// the fast ones, and replicas of similar speed share the load.
/// </summary>
internal sealed class ReplicaHealth(TimeProvider time)
{
    public static readonly TimeSpan Penalty = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failures after which a replica is skipped (its circuit opens) for the rest of the penalty.</summary>
    public const int FailuresToOpen = 3;

    /// <summary>While a replica's circuit is open, one call per this interval still goes through to see whether it is back.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Weight of the newest sample in the moving average of a replica's latency.</summary>
    private const double Smoothing = 0.2;

    private readonly ConcurrentDictionary<(string Tenant, string Replica), State> _replicas = new();

    /// <summary>
    /// Healthy replicas first, fastest first (replicas within twice the fastest one's latency count as equally
    /// fast and are rotated by <paramref name="spread"/>), recently failed ones last.
    /// </summary>
    public IReadOnlyList<string> Order(string tenant, IReadOnlyList<string> replicas, int spread)
    {
        if (replicas.Count <= 1) return replicas;
        var now = time.GetTimestamp();
        var offset = (int)((uint)spread % (uint)replicas.Count);
        var rotated = replicas.Skip(offset).Concat(replicas.Take(offset)).Select(r => (Replica: r, State: Get(tenant, r))).ToList();
        var fastest = rotated.Where(r => !IsPenalized(r.State, now)).Select(r => r.State.LatencyMs).DefaultIfEmpty(0).Min();
        return rotated
            .OrderBy(r => IsPenalized(r.State, now) ? 2 : r.State.LatencyMs > 2 * fastest + 1 ? 1 : 0)
            .Select(r => r.Replica)
            .ToList();
    }

    /// <summary>
    /// Whether a call may go to the replica now. A replica that failed <see cref="FailuresToOpen"/> times in a row
    /// within the penalty gets one call per <see cref="ProbeInterval"/>; the rest are refused here, at once, instead
    /// of each holding a handshake thread until Orleans gives up on a dead silo.
    /// </summary>
    public bool TryAdmit(string tenant, string replica)
    {
        var state = Get(tenant, replica);
        var now = time.GetTimestamp();
        if (state.ConsecutiveFailures < FailuresToOpen || !IsPenalized(state, now)) return true;
        lock (state)
        {
            if (state.ProbedAt is { } probed && time.GetElapsedTime(probed, now) < ProbeInterval) return false;
            state.ProbedAt = now;
            return true;
        }
    }

    public void Failed(string tenant, string replica)
    {
        var state = Get(tenant, replica);
        state.FailedAt = time.GetTimestamp();
        state.ConsecutiveFailures++;
    }

    public void Succeeded(string tenant, string replica, TimeSpan latency)
    {
        var state = Get(tenant, replica);
        state.FailedAt = null;
        state.ConsecutiveFailures = 0;
        var ms = latency.TotalMilliseconds;
        state.LatencyMs = state.LatencyMs == 0 ? ms : state.LatencyMs + Smoothing * (ms - state.LatencyMs);
    }

    /// <summary>The replica's smoothed latency of successful calls, or null before the first one.</summary>
    public TimeSpan? Latency(string tenant, string replica) =>
        _replicas.TryGetValue((tenant, replica), out var state) && state.LatencyMs > 0 ? TimeSpan.FromMilliseconds(state.LatencyMs) : null;

    /// <summary>Forgets a tenant's replicas when the edge stops serving it, so the table stays as large as what is served.</summary>
    public void Forget(string tenant)
    {
        foreach (var key in _replicas.Keys)
            if (key.Tenant == tenant) _replicas.TryRemove(key, out _);
    }

    private State Get(string tenant, string replica) => _replicas.GetOrAdd((tenant, replica), _ => new State());

    private bool IsPenalized(State state, long now) => state.FailedAt is { } at && time.GetElapsedTime(at, now) < Penalty;

    /// <summary>Racy updates are fine: these are hints for ordering, not accounts.</summary>
    private sealed class State
    {
        public long? FailedAt { get; set; }

        public double LatencyMs { get; set; }

        public int ConsecutiveFailures { get; set; }

        public long? ProbedAt { get; set; }
    }
}
