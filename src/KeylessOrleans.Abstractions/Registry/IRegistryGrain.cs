using KeylessOrleans.Cluster;

namespace KeylessOrleans.Registry;

/// <summary>
/// The door to the cluster's directory of tenants. A stateless worker on edge silos (on-prem silos host nothing but key
/// grains): it checks who calls, then hands each change to the one tenant grain it concerns, and answers reads from
/// the registry's storage. Nothing here holds the whole fleet: a change costs what it changes.
/// Edges and operator tools read it; operator tools change tenants; key servers register their own replicas only
/// where they are members of the operator's cluster (single-organization mode).
/// </summary>
[Alias("keyless.IRegistryGrain"), AllowedCallers(Callers.Edge | Callers.Operator)]
public interface IRegistryGrain : IGrainWithStringKey
{
    public const string DefaultKey = "default";

    /// <summary>The most names one <see cref="ListTenantsAsync"/> answer holds (every tenant of a large fleet, ~2 MB).</summary>
    public const int MaxTenantPage = 100_000;

    /// <summary>Adds or replaces a replica's registration; returns the tenant's version after the change.</summary>
    [Alias("RegisterReplica"), AllowedCallers(Callers.OwnTenantOnPrem)]
    Task<long> RegisterReplicaAsync(ReplicaRegistration registration);

    [Alias("UnregisterReplica"), AllowedCallers(Callers.OwnTenantOnPrem)]
    Task<long> UnregisterReplicaAsync(string tenant, string replica);

    /// <summary>
    /// Adds or replaces a tenant's operator settings; returns the tenant's version after the change. Refused when one
    /// of the names is another tenant's: a name moves by removing it from its tenant first.
    /// </summary>
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

    /// <summary>One tenant's settings and self-registered replicas, or null when the operator has not added it.</summary>
    [Alias("GetTenant")]
    Task<TenantRecord?> GetTenantAsync(string tenant);

    /// <summary>Up to <paramref name="count"/> tenant names after <paramref name="after"/> (null: from the start), in ordinal order.</summary>
    [Alias("ListTenants")]
    Task<IReadOnlyList<string>> ListTenantsAsync(string? after, int count);
}

/// <summary>What the registry holds for one tenant.</summary>
/// <param name="Replicas">Replicas that registered themselves (single-organization mode); federated tenants have none.</param>
/// <param name="Version">Grows with each change of this tenant.</param>
[GenerateSerializer, Immutable, Alias("keyless.TenantRecord")]
public sealed record TenantRecord(
    [property: Id(0)] TenantSettings Settings,
    [property: Id(1)] IReadOnlyList<ReplicaRegistration> Replicas,
    [property: Id(2)] long Version);
