using KeylessOrleans.Registry;
using Orleans.Concurrency;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>
/// The registry's door, on every edge silo that is called (a stateless worker: no single activation carries the
/// fleet's traffic or its state). Changes go to the tenant's grain; reads come from storage (<see cref="RegistryReader"/>).
/// </summary>
[StatelessWorker]
internal sealed class RegistryGrain(RegistryReader reader) : Grain, IRegistryGrain
{
    public Task<long> RegisterReplicaAsync(ReplicaRegistration registration) =>
        Tenant(registration.Tenant).RegisterReplicaAsync(registration);

    public Task<long> UnregisterReplicaAsync(string tenant, string replica) => Tenant(tenant).UnregisterReplicaAsync(replica);

    public Task<long> SetTenantAsync(TenantSettings settings)
    {
        // Checked here too, so a malformed name never becomes a grain key.
        if (RegistryRules.Problem(settings) is { } problem) throw new ArgumentException(problem, nameof(settings));
        return Tenant(settings.Tenant).SetAsync(settings);
    }

    public Task<long> RemoveTenantAsync(string tenant) =>
        Keys.KeyGrainKey.IsValidName(tenant) ? Tenant(tenant).RemoveAsync() : Task.FromResult(0L);

    public async Task<HostRoute?> LookupHostAsync(string hostName)
    {
        if (await HostNameLookup.ResolveAsync(reader, hostName) is not { } found) return null;
        return HostRouting.Find(found.Tenant.Replicas, hostName);
    }

    public Task<TenantRecord?> GetTenantAsync(string tenant) =>
        Keys.KeyGrainKey.IsValidName(tenant) ? reader.TenantAsync(tenant) : Task.FromResult<TenantRecord?>(null);

    public async Task<IReadOnlyList<string>> ListTenantsAsync(string? after, int count)
    {
        var names = await reader.TenantNamesAsync();
        return names.Where(n => after is null || string.CompareOrdinal(n, after) > 0).Take(Math.Clamp(count, 1, IRegistryGrain.MaxTenantPage)).ToList();
    }

    private ITenantGrain Tenant(string tenant) => GrainFactory.GetGrain<ITenantGrain>(tenant);
}
