using System.Net;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// A cluster of one's own: an edge silo as <paramref name="edge"/> plans it and tenant acme's key server (one replica,
/// RSA and ECDSA keys for <see cref="EdgeFixture.Host"/>), serving acme with a plain origin. For tests that stop
/// silos or need an edge planned differently from <see cref="EdgeFixture"/>'s.
/// </summary>
internal sealed class SingleTenantEdge(SiloPlan.Edge edge) : IAsyncDisposable
{
    public SiloPlan.Edge Edge { get; } = edge;
    public TestCertificateAuthority Authority { get; } = new();
    public TestOrigin Origin { get; } = new();
    public TenantKeyFolder Keys { get; private set; } = null!;
    public SiloPlan.OnPrem Acme { get; private set; } = null!;
    public KeylessTestCluster Cluster { get; private set; } = null!;
    public IPEndPoint EndPoint { get; private set; } = null!;

    /// <summary>Starts the cluster and returns once the edge routes acme's host with both keys.</summary>
    public static async Task<SingleTenantEdge> StartAsync(SiloPlan.Edge edge)
    {
        var site = new SingleTenantEdge(edge);
        site.Keys = new TenantKeyFolder(site.Authority, [EdgeFixture.Host]);
        site.Acme = new SiloPlan.OnPrem("acme", "primary", site.Keys.Path);
        site.Cluster = await KeylessTestCluster.StartAsync(edge, site.Acme);
        var tenant = new TenantSettings("acme", [EdgeFixture.Host], new OriginEndpoint("127.0.0.1", site.Origin.Port));
        site.EndPoint = await site.Cluster.ServeTenantAsync(tenant, EdgeFixture.Host, keys: 2);
        return site;
    }

    public async ValueTask DisposeAsync()
    {
        if (Cluster is not null) await Cluster.DisposeAsync();
        await Origin.DisposeAsync();
        Keys?.Dispose();
        Authority.Dispose();
    }
}
