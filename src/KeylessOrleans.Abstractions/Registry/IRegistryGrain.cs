using KeylessOrleans.Cluster;

namespace KeylessOrleans.Registry;

/// <summary>
/// The cluster's directory of tenants: which replicas are up and which certificate chains they can sign for.
/// Lives on edge silos (on-prem silos host nothing but key grains). One activation, key <see cref="DefaultKey"/>.
/// Edges and operator tools read it; operator tools change tenants; key servers register their own replicas only
/// where they are members of the operator's cluster (single-organization mode).
/// </summary>
[Alias("keyless.IRegistryGrain"), AllowedCallers(Callers.Edge | Callers.Operator)]
public interface IRegistryGrain : IGrainWithStringKey
{
    public const string DefaultKey = "default";

    /// <summary>Adds or replaces a replica's registration; returns the registry version after the change.</summary>
    [Alias("RegisterReplica"), AllowedCallers(Callers.OwnTenantOnPrem)]
    Task<long> RegisterReplicaAsync(ReplicaRegistration registration);

    [Alias("UnregisterReplica"), AllowedCallers(Callers.OwnTenantOnPrem)]
    Task<long> UnregisterReplicaAsync(string tenant, string replica);

    /// <summary>Adds or replaces a tenant's operator settings; returns the registry version after the change.</summary>
    /// <remarks>
    /// Edges too: <c>keyless edge --tenants FILE</c> imports a tenant file at start. An edge hosts this very grain, so
    /// refusing it a write would protect nothing.
    /// </remarks>
    [Alias("SetTenant"), AllowedCallers(Callers.Operator | Callers.Edge)]
    Task<long> SetTenantAsync(TenantSettings settings);

    [Alias("RemoveTenant"), AllowedCallers(Callers.Operator)]
    Task<long> RemoveTenantAsync(string tenant);

    /// <summary>The route for a host name (exact match preferred over wildcard), or null when none serves it.</summary>
    [Alias("LookupHost")]
    Task<HostRoute?> LookupHostAsync(string hostName);

    /// <summary>Every registration, for edges that cache the registry; null when <paramref name="knownVersion"/> is current.</summary>
    [Alias("GetSnapshotIfChanged")]
    Task<RegistrySnapshot?> GetSnapshotIfChangedAsync(long knownVersion);
}

[GenerateSerializer, Immutable, Alias("keyless.RegistrySnapshot")]
public sealed record RegistrySnapshot(
    [property: Id(0)] long Version,
    [property: Id(1)] IReadOnlyList<ReplicaRegistration> Replicas,
    [property: Id(2)] IReadOnlyList<TenantSettings> Tenants);
