using KeylessOrleans.Cluster.Storage;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>On a single machine the registry lives in files, so it outlives every silo that hosted it.</summary>
public sealed class RegistryPersistenceTests
{
    [Fact]
    public async Task A_registry_kept_in_files_survives_every_edge_silo_stopping_and_a_new_cluster_reads_it()
    {
        using var authority = new TestCertificateAuthority();
        using var keys = new TenantKeyFolder(authority, ["www.acme.test"]);
        using var registryFolder = new TempDirectory("keyless-registry");
        var acme = new TenantSettings("acme", ["www.acme.test"], new OriginEndpoint("127.0.0.1", 8080));
        long versionBefore;

        var edge = new SiloPlan.Edge { RegistryDirectory = registryFolder.Path };
        await using (var first = await KeylessTestCluster.StartAsync(edge, new SiloPlan.OnPrem("acme", "primary", keys.Path)))
        {
            var registry = first.Grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);
            await registry.SetTenantAsync(acme);
            Assert.True(await Poll.UntilAsync(async () => await registry.LookupHostAsync("www.acme.test") is not null, TimeSpan.FromSeconds(30)),
                "the key server never registered www.acme.test");
            versionBefore = await registry.SetTenantAsync(acme); // unchanged settings: the current version

            // The edge (the only silo that may host the registry) goes first, so the key server's withdrawal on its
            // own stop finds no registry: what is in the files is what the edge had.
            await first.Cluster.StopSiloAsync(first.Silo(edge));
        }
        Assert.NotEmpty(Directory.EnumerateFiles(registryFolder.Path, "*" + StateFile.Extension, SearchOption.AllDirectories));

        // A new cluster on the same folder: no silo of the first is left, and no key server registers again.
        await using var second = await KeylessTestCluster.StartAsync(new SiloPlan.Edge { RegistryDirectory = registryFolder.Path });
        var reread = second.Grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);

        var route = await reread.LookupHostAsync("www.acme.test");
        Assert.NotNull(route);
        Assert.Equal("acme", route.Tenant);
        Assert.NotEmpty(route.Keys);
        // The tenant is there too: setting it unchanged keeps the version the first cluster reached (a fresh registry
        // would answer 1; the first cluster's was at least 2: the tenant, then the key server's registration).
        Assert.True(versionBefore >= 2, $"version {versionBefore}");
        Assert.True(await reread.SetTenantAsync(acme) >= versionBefore);
    }
}
