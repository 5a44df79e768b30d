using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace KeylessOrleans.Cluster.Placement;

/// <summary>
/// Keeps only silos whose metadata says: on-prem, this tenant, this replica — read from the grain key, either a key
/// grain's "tenant/replica/keyId" or a key server grain's "tenant/replica". An empty result stays empty (Orleans then
/// fails the call with "No active nodes are compatible"): a tenant's grain never lands anywhere else.
/// </summary>
/// <remarks>Runs on whichever silo places the grain, so every silo registers it. Singleton: must be thread-safe.</remarks>
internal sealed class TenantKeyPlacementDirector(ISiloMetadataCache metadata) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        if (!TryReadHome(target.GrainIdentity.Key.ToString(), out var tenant, out var replica)) return [];
        return silos.Where(silo => IsHomeOf(metadata.GetSiloMetadata(silo).Metadata, tenant, replica)).ToList();
    }

    /// <summary>Tenant and replica from "tenant/replica/keyId" or "tenant/replica"; false for anything else.</summary>
    public static bool TryReadHome(string? grainKey, out string tenant, out string replica)
    {
        (tenant, replica) = ("", "");
        var parts = grainKey?.Split('/');
        if (parts is not { Length: 2 or 3 } || parts.Any(string.IsNullOrEmpty)) return false;
        (tenant, replica) = (parts[0], parts[1]);
        return true;
    }

    internal static bool IsHomeOf(IReadOnlyDictionary<string, string> silo, string tenant, string replica) =>
        silo.TryGetValue(SiloMetadataKeys.Role, out var role) && role == SiloRoles.OnPrem
        && silo.TryGetValue(SiloMetadataKeys.Tenant, out var siloTenant) && siloTenant == tenant
        && silo.TryGetValue(SiloMetadataKeys.Replica, out var siloReplica) && siloReplica == replica;
}
