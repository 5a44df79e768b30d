using KeylessOrleans.Cluster;

namespace KeylessOrleans.Registry;

/// <summary>
/// The registry's change feed: which tenants changed, in order. Edges follow it to drop what they cached of a changed
/// tenant; they never receive a copy of the registry. One activation (<see cref="IRegistryGrain.DefaultKey"/>); it keeps
/// the last <see cref="RegistryChanges.Capacity"/> changes in memory, and a reader that fell further behind, or that
/// followed an earlier activation (another <see cref="FeedPosition.Epoch"/>), is told to start over.
/// </summary>
[Alias("keyless.IRegistryFeedGrain"), AllowedCallers(Callers.Edge)]
public interface IRegistryFeedGrain : IGrainWithStringKey
{
    /// <summary>Records that a tenant changed; <paramref name="hostNames"/> are the names the change added or removed.</summary>
    [Alias("Publish")]
    Task PublishAsync(string tenant, IReadOnlyList<string> hostNames, bool removed);

    /// <summary>Changes after <paramref name="position"/>, at most <paramref name="count"/>.</summary>
    [Alias("Read")]
    Task<RegistryChanges> ReadAsync(FeedPosition position, int count);
}

/// <summary>Where a reader of the feed stands: the feed's epoch and the last sequence number it applied.</summary>
[GenerateSerializer, Immutable, Alias("keyless.FeedPosition")]
public readonly record struct FeedPosition([property: Id(0)] long Epoch, [property: Id(1)] long Sequence)
{
    public static readonly FeedPosition Start = new(0, 0);
}

/// <summary>One change: a tenant's settings, replicas or existence, and the host names it touched.</summary>
/// <param name="Removed">The operator removed the tenant.</param>
[GenerateSerializer, Immutable, Alias("keyless.RegistryChange")]
public sealed record RegistryChange(
    [property: Id(0)] long Sequence,
    [property: Id(1)] string Tenant,
    [property: Id(2)] IReadOnlyList<string> HostNames,
    [property: Id(3)] bool Removed = false);

/// <summary>
/// An answer of the feed. <see cref="StartOver"/>: the reader's position is unknown to this feed (another epoch, or
/// older than what it keeps); it must drop everything it cached and continue from <see cref="Position"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("keyless.RegistryChanges")]
public sealed record RegistryChanges(
    [property: Id(0)] FeedPosition Position,
    [property: Id(1)] bool StartOver,
    [property: Id(2)] IReadOnlyList<RegistryChange> Changes)
{
    /// <summary>Changes the feed keeps for readers that fall behind.</summary>
    public const int Capacity = 65_536;

    /// <summary>The most changes one read returns.</summary>
    public const int MaxPerRead = 4096;
}
