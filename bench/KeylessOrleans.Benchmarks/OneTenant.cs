using KeylessOrleans.Registry;

namespace KeylessOrleans.Benchmarks;

/// <summary>A registry of one tenant, for an edge that serves only it.</summary>
internal sealed class OneTenant(TenantSettings settings) : KeylessOrleans.Cluster.Registry.IRegistrySource
{
    public Task<TenantRecord?> TenantAsync(string tenant) =>
        Task.FromResult(tenant == settings.Tenant ? new TenantRecord(settings, [], 1) : null);

    public Task<string?> HostNameHolderAsync(string name) =>
        Task.FromResult(settings.HostNames.Contains(name) ? settings.Tenant : null);
}
