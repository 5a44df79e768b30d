using KeylessOrleans.Keys;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace KeylessOrleans.Cluster.Placement;

/// <summary>
/// Keeps only silos whose metadata says: on-prem, this tenant, this replica. An empty result stays empty
/// (Orleans then fails the call with "No active nodes are compatible"): a key grain never lands anywhere else.
/// </summary>
/// <remarks>Runs on whichever silo places the grain, so every silo registers it. Singleton: must be thread-safe.</remarks>
public sealed class TenantKeyPlacementDirector(ISiloMetadataCache metadata) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        if (!KeyGrainKey.TryParse(target.GrainIdentity.Key.ToString(), out var key)) return [];
        return silos.Where(silo => IsHomeOf(metadata.GetSiloMetadata(silo).Metadata, key)).ToList();
    }

    internal static bool IsHomeOf(IReadOnlyDictionary<string, string> silo, KeyGrainKey key) =>
        silo.TryGetValue(SiloMetadataKeys.Role, out var role) && role == SiloRoles.OnPrem
        && silo.TryGetValue(SiloMetadataKeys.Tenant, out var tenant) && tenant == key.Tenant
        && silo.TryGetValue(SiloMetadataKeys.Replica, out var replica) && replica == key.Replica;
}
