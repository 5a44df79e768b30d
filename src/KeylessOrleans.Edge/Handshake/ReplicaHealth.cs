using System.Collections.Concurrent;

namespace KeylessOrleans.Edge.Handshake;

/// <summary>
/// What this edge has seen of each key-server replica: replicas that failed recently go to the back of the
/// line for a while, so one dead replica costs one failed attempt, not one per handshake.
/// </summary>
public sealed class ReplicaHealth(TimeProvider time)
{
    public static readonly TimeSpan Penalty = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<(string Tenant, string Replica), long> _failedAt = new();

    /// <summary>Healthy replicas first (rotated by <paramref name="spread"/> to share load), recently failed ones last.</summary>
    public IReadOnlyList<string> Order(string tenant, IReadOnlyList<string> replicas, int spread)
    {
        if (replicas.Count <= 1) return replicas;
        var now = time.GetTimestamp();
        var rotated = replicas.Skip(spread % replicas.Count).Concat(replicas.Take(spread % replicas.Count));
        return rotated.OrderBy(r => IsPenalized(tenant, r, now) ? 1 : 0).ToList();
    }

    public void Failed(string tenant, string replica) => _failedAt[(tenant, replica)] = time.GetTimestamp();

    public void Succeeded(string tenant, string replica) => _failedAt.TryRemove((tenant, replica), out _);

    private bool IsPenalized(string tenant, string replica, long now) =>
        _failedAt.TryGetValue((tenant, replica), out var at) && time.GetElapsedTime(at, now) < Penalty;
}
