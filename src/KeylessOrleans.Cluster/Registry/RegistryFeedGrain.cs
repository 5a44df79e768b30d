using KeylessOrleans.Registry;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>
/// The change feed, in memory: losing it loses nothing stored. A new activation takes a new epoch, so every edge
/// drops its cache once and reads again what it serves.
/// </summary>
[GrainType(RegistryGrainTypes.Feed)]
internal sealed class RegistryFeedGrain : Grain, IRegistryFeedGrain
{
    /// <summary>Change n is at n % Capacity while it is one of the last Capacity changes.</summary>
    private readonly RegistryChange?[] _ring = new RegistryChange?[RegistryChanges.Capacity];
    private readonly long _epoch = Random.Shared.NextInt64(1, long.MaxValue);
    private long _sequence;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Edges read every second; an idle feed would otherwise be collected, and its next activation make every edge start over.
        DelayDeactivation(TimeSpan.FromDays(3650));
        return Task.CompletedTask;
    }

    public Task PublishAsync(string tenant, IReadOnlyList<string> hostNames, bool removed)
    {
        _sequence++;
        _ring[_sequence % RegistryChanges.Capacity] = new RegistryChange(_sequence, tenant, hostNames.ToArray(), removed);
        return Task.CompletedTask;
    }

    public Task<RegistryChanges> ReadAsync(FeedPosition position, int count)
    {
        var now = new FeedPosition(_epoch, _sequence);
        var oldest = Math.Max(1, _sequence - RegistryChanges.Capacity + 1);
        if (position.Epoch != _epoch || position.Sequence > _sequence || position.Sequence < oldest - 1)
            return Task.FromResult(new RegistryChanges(now, StartOver: true, []));

        var last = Math.Min(_sequence, position.Sequence + Math.Clamp(count, 1, RegistryChanges.MaxPerRead));
        var changes = new RegistryChange[last - position.Sequence];
        for (var n = position.Sequence + 1; n <= last; n++) changes[n - position.Sequence - 1] = _ring[n % RegistryChanges.Capacity]!;
        var reached = changes.Length == 0 ? position : new FeedPosition(_epoch, changes[^1].Sequence);
        return Task.FromResult(new RegistryChanges(reached, StartOver: false, changes));
    }
}
