using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Benchmarks;

/// <summary>A registry of one tenant, for an edge that serves only it.</summary>
internal sealed class OneTenant(TenantSettings settings) : KeylessOrleans.Cluster.Registry.IRegistrySource
{
    /// <summary>
    /// An edge's route table over a registry of one tenant, <paramref name="hostName"/> already resolved (the edge serves
    /// the tenant), its one key server <paramref name="replica"/> at <paramref name="gateway"/> in a cluster of its own.
    /// </summary>
    public static RouteTable Served(string tenant, string hostName, string replica, string gateway, string? keyServerCa)
    {
        var routes = new RouteTable(new OneTenant(new TenantSettings(tenant, [hostName], new OriginEndpoint("127.0.0.1", 9),
            KeyServers: [new KeyServerEndpoint(replica, gateway)], KeyServerCa: keyServerCa)), TimeProvider.System);
        routes.Resolve(hostName);
        return routes;
    }

    public Task<TenantRecord?> TenantAsync(string tenant) =>
        Task.FromResult(tenant == settings.Tenant ? new TenantRecord(settings, [], 1) : null);

    public Task<string?> HostNameHolderAsync(string name) =>
        Task.FromResult(settings.HostNames.Contains(name) ? settings.Tenant : null);
}
