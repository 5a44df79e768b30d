using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>The registry's stored state reads back after the grain is deactivated, whatever list types its callers used.</summary>
public sealed class RegistryStorageTests
{
    [Fact]
    public async Task A_tenant_set_from_the_registrys_own_silo_with_a_collection_expression_survives_reactivation()
    {
        using var authority = new TestCertificateAuthority();
        using var keys = new TenantKeyFolder(authority, ["www.acme.test"]);
        await using var cluster = await KeylessTestCluster.StartAsync(new SiloPlan.Edge(), new SiloPlan.OnPrem("acme", "primary", keys.Path));
        var registry = cluster.Grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);
        // In the same silo the immutable record is handed over as is: its host list is the compiler's own type.
        await registry.SetTenantAsync(new TenantSettings("acme", ["www.acme.test"], new OriginEndpoint("127.0.0.1", 8080)));

        await cluster.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var record = await registry.GetTenantAsync("acme");

        Assert.NotNull(record);
        Assert.Equal(["www.acme.test"], record.Settings.HostNames);
    }
}
