using KeylessOrleans.TestSupport;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Cluster.Tests;

public sealed class RegistryTests(TwoTenantsFixture fixture) : IClassFixture<TwoTenantsFixture>
{
    [Fact]
    public async Task On_prem_silos_register_their_chains_and_edges_can_route_host_names_to_them()
    {
        var route = await fixture.Registry.LookupHostAsync("WWW.acme.test.");

        Assert.NotNull(route);
        Assert.Equal("acme", route.Tenant);
        Assert.Equal("www.acme.test", route.MatchedName);
        Assert.Equal(
            new[] { fixture.AcmeKeys.RsaKeyId, fixture.AcmeKeys.EcdsaKeyId, KeyIds.FromSubjectPublicKeyInfo(fixture.AcmeKeys.Ed25519!.SubjectPublicKeyInfo) }.Order(),
            route.Keys.Select(k => k.KeyId).Order());
        Assert.All(route.Keys, key => Assert.Equal(["primary"], key.Replicas));
        Assert.All(route.Keys, key => Assert.Equal(2, key.ChainDer.Count));
    }

    [Fact]
    public async Task Wildcard_names_cover_one_label_and_unknown_names_have_no_route()
    {
        Assert.Equal("*.acme.test", (await fixture.Registry.LookupHostAsync("api.acme.test"))?.MatchedName);
        Assert.Null(await fixture.Registry.LookupHostAsync("a.b.acme.test"));
        Assert.Null(await fixture.Registry.LookupHostAsync("acme.test"));
        Assert.Null(await fixture.Registry.LookupHostAsync("unknown.test"));
        Assert.Equal("globex", (await fixture.Registry.LookupHostAsync("globex.test"))?.Tenant);
    }

    [Fact]
    public async Task A_replica_re_announcing_itself_unchanged_changes_nothing()
    {
        var record = await fixture.Registry.GetTenantAsync("acme");
        Assert.NotNull(record);
        Assert.Equal("globex", (await fixture.Registry.GetTenantAsync("globex"))?.Replicas.Single().Tenant);

        // Replicas re-announce themselves periodically: that must not count as a change edges have to follow.
        var acme = record.Replicas.Single();
        Assert.Equal(record.Version, await fixture.Registry.RegisterReplicaAsync(acme));
        Assert.Equal(record.Version, (await fixture.Registry.GetTenantAsync("acme"))!.Version);
    }

    [Fact]
    public async Task A_certificate_for_a_name_the_tenant_was_not_given_is_refused_with_a_clear_message()
    {
        var acme = (await fixture.Registry.GetTenantAsync("acme"))!.Replicas.Single();
        var widened = acme with { Chains = [acme.Chains[0] with { HostNames = ["www.acme.test", "login.bank.test"] }] };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Registry.RegisterReplicaAsync(widened));

        Assert.Contains("login.bank.test", error.Message);
        Assert.Contains("was not given", error.Message);
        Assert.Null(await fixture.Registry.LookupHostAsync("login.bank.test"));
    }

    [Fact]
    public async Task A_replica_that_does_not_hold_the_key_cannot_register_its_certificate()
    {
        // globex's silo claims acme's certificate under acme's name but as another replica: no such key there.
        var acme = (await fixture.Registry.GetTenantAsync("acme"))!.Replicas.Single();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Registry.RegisterReplicaAsync(acme with { Replica = "impostor" }));
        Assert.Contains("acme/impostor", error.Message);
    }

    [Fact]
    public async Task A_tenant_the_operator_has_not_added_cannot_register()
    {
        var acme = (await fixture.Registry.GetTenantAsync("acme"))!.Replicas.Single();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Registry.RegisterReplicaAsync(acme with { Tenant = "initech" }));
        Assert.Contains("has not been added", error.Message);
    }

    [Fact]
    public async Task A_registration_with_a_malformed_key_id_is_refused()
    {
        var bad = new ReplicaRegistration("acme", "rogue", [new CertificateChainRegistration("not-a-key-id", KeyAlgorithm.Rsa, [[1, 2, 3]], ["evil.test"], DateTimeOffset.UtcNow)]);
        await Assert.ThrowsAsync<ArgumentException>(() => fixture.Registry.RegisterReplicaAsync(bad));
        Assert.Null(await fixture.Registry.LookupHostAsync("evil.test"));
    }
}
