using Orleans.GrainDirectory;

namespace KeylessOrleans.Cluster.Placement;

/// <summary>
/// The grain directory of grains whose placement rule already says where their one activation is: a key grain
/// lives only on its tenant replica's silo (<see cref="TenantKeyPlacementDirector"/>), a handshake grain only on
/// the calling edge (a stateless worker). Lookups answer "not registered", so a caller without a cached address
/// simply places the call again by that rule.
/// </summary>
/// <remarks>
/// Why not Orleans' default directory: it keeps each grain's entry on a silo picked by hashing the grain id —
/// any silo, another tenant's key server or another edge included. When that silo dies, every lookup of such
/// a grain fails until membership declares it dead (seconds), so one crashed edge failed handshakes of other
/// edges' tenants. With this directory a key call needs only the calling edge and the key server.
/// Registrations are accepted as they come: activations cannot collide, because the rule sends every call
/// for a grain to the same silo, whose catalog keeps one activation per grain id.
/// </remarks>
internal sealed class PlacementRuleDirectory : IGrainDirectory
{
    public const string Name = "keyless-placement-rule";

    public Task<GrainAddress?> Register(GrainAddress address) => Task.FromResult<GrainAddress?>(address);

    public Task<GrainAddress?> Register(GrainAddress address, GrainAddress? previousAddress) => Register(address);

    public Task Unregister(GrainAddress address) => Task.CompletedTask;

    public Task<GrainAddress?> Lookup(GrainId grainId) => Task.FromResult<GrainAddress?>(null);

    public Task UnregisterSilos(List<SiloAddress> siloAddresses) => Task.CompletedTask;
}
