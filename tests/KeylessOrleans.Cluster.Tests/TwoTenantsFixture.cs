using System.Diagnostics;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>An edge silo and the on-prem silos of two tenants, acme and globex, each with its own key folder.</summary>
public sealed class TwoTenantsFixture : IAsyncLifetime
{
    public TestCertificateAuthority Authority { get; } = new();
    public TenantKeyFolder AcmeKeys { get; private set; } = null!;
    public TenantKeyFolder GlobexKeys { get; private set; } = null!;
    public SiloPlan EdgePlan { get; } = new SiloPlan.Edge();
    public SiloPlan.OnPrem AcmePlan { get; private set; } = null!;
    public SiloPlan.OnPrem GlobexPlan { get; private set; } = null!;
    public KeylessTestCluster Cluster { get; private set; } = null!;

    public InProcessSiloHandle EdgeSilo => Cluster.Silo(EdgePlan);

    /// <summary>The key client as the edge silo's handshakes use it.</summary>
    internal KeyServerClient KeyClient => Cluster.Services(EdgeSilo).GetRequiredService<KeyServerClient>();

    public IRegistryGrain Registry => Cluster.Grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);

    public async Task InitializeAsync()
    {
        AcmeKeys = new TenantKeyFolder(Authority, ["www.acme.test", "*.acme.test"], withEd25519: true);
        GlobexKeys = new TenantKeyFolder(Authority, ["globex.test"]);
        AcmePlan = new SiloPlan.OnPrem("acme", "primary", AcmeKeys.Path);
        GlobexPlan = new SiloPlan.OnPrem("globex", "primary", GlobexKeys.Path);
        Cluster = await KeylessTestCluster.StartAsync(EdgePlan, AcmePlan, GlobexPlan);
        // The operator adds the tenants; their replicas, already trying, register as soon as that is done.
        await Registry.SetTenantAsync(new TenantSettings("acme", ["www.acme.test", "*.acme.test"], new OriginEndpoint("127.0.0.1", 9)));
        await Registry.SetTenantAsync(new TenantSettings("globex", ["globex.test"], new OriginEndpoint("127.0.0.1", 9)));
        await WaitForRegistrationAsync("www.acme.test", "acme");
        await WaitForRegistrationAsync("globex.test", "globex");
    }

    public async Task WaitForRegistrationAsync(string host, string tenant)
    {
        var clock = Stopwatch.StartNew();
        while ((await Registry.LookupHostAsync(host))?.Tenant != tenant)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"{tenant} never registered {host}");
            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        AcmeKeys.Dispose();
        GlobexKeys.Dispose();
        Authority.Dispose();
    }
}
