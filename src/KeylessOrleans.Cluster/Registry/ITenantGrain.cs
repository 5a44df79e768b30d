using KeylessOrleans.Registry;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>
/// One tenant of the registry, keyed by its name, persisted on its own: a change to one tenant writes that tenant.
/// Reached through <see cref="IRegistryGrain"/>, which checks the caller; edges only, as that door runs on edges.
/// </summary>
[Alias("keyless.ITenantGrain"), AllowedCallers(Callers.Edge)]
internal interface ITenantGrain : IGrainWithStringKey
{
    [Alias("Set")]
    Task<long> SetAsync(TenantSettings settings);

    [Alias("Remove")]
    Task<long> RemoveAsync();

    [Alias("RegisterReplica")]
    Task<long> RegisterReplicaAsync(ReplicaRegistration registration);

    [Alias("UnregisterReplica")]
    Task<long> UnregisterReplicaAsync(string replica);
}

/// <summary>
/// One host name or wildcard, keyed by its normalized form: which tenant holds it. The host-name index is these
/// grains, so giving a tenant ten names touches ten small records, whatever the size of the fleet.
/// </summary>
[Alias("keyless.IHostNameGrain"), AllowedCallers(Callers.Edge)]
internal interface IHostNameGrain : IGrainWithStringKey
{
    /// <summary>Gives the name to <paramref name="tenant"/>; returns the other tenant that holds it (and keeps it), or null.</summary>
    [Alias("Claim")]
    Task<string?> ClaimAsync(string tenant);

    /// <summary>Takes the name from <paramref name="tenant"/>, if it holds it.</summary>
    [Alias("Release")]
    Task ReleaseAsync(string tenant);
}

/// <summary>One shard of the list of tenant names (<see cref="RegistryGrainTypes.DirectoryShard"/>), for listing.</summary>
[Alias("keyless.ITenantDirectoryGrain"), AllowedCallers(Callers.Edge)]
internal interface ITenantDirectoryGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(string tenant);

    [Alias("Remove")]
    Task RemoveAsync(string tenant);
}
