using System.Net;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// An operator cluster of one's own: an edge silo as <paramref name="edge"/> plans it, and tenant acme's key server (one
/// replica, RSA and ECDSA keys for <see cref="EdgeFixture.Host"/>) as a cluster of its own, serving acme with a plain
/// origin. For tests that stop the key server or need an edge planned differently from <see cref="EdgeFixture"/>'s.
/// </summary>
internal sealed class SingleTenantEdge(SiloPlan.Edge edge) : IAsyncDisposable
{
    public SiloPlan.Edge Edge { get; } = edge;
    public TestCertificateAuthority Authority { get; } = new();
    public TestOrigin Origin { get; } = new();
    public TenantKeyFolder Keys { get; private set; } = null!;
    public TenantKeyServerHost Acme { get; private set; } = null!;
    public KeylessTestCluster Cluster { get; private set; } = null!;
    public IPEndPoint EndPoint { get; private set; } = null!;

    /// <summary>Starts the clusters and returns once the edge routes acme's host with both keys.</summary>
    public static async Task<SingleTenantEdge> StartAsync(SiloPlan.Edge edge)
    {
        var site = new SingleTenantEdge(edge);
        site.Keys = new TenantKeyFolder(site.Authority, [EdgeFixture.Host]);
        site.Cluster = await KeylessTestCluster.StartAsync(edge);
        site.Acme = await TenantKeyServerHost.StartAsync("acme", "primary", site.Keys.Path, calls: site.Cluster.Calls);
        var tenant = new TenantSettings("acme", [EdgeFixture.Host], new OriginEndpoint("127.0.0.1", site.Origin.Port), KeyServers: [site.Acme.Endpoint]);
        site.EndPoint = await site.Cluster.ServeTenantAsync(tenant, EdgeFixture.Host, keys: 2);
        return site;
    }

    public async ValueTask DisposeAsync()
    {
        if (Cluster is not null) await Cluster.DisposeAsync();
        if (Acme is not null) await Acme.DisposeAsync();
        await Origin.DisposeAsync();
        Keys?.Dispose();
        Authority.Dispose();
    }
}
