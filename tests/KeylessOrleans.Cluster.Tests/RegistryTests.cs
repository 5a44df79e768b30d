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
    public async Task Snapshots_are_only_sent_when_the_registry_changed()
    {
        var snapshot = await fixture.Registry.GetSnapshotIfChangedAsync(0);
        Assert.NotNull(snapshot);
        Assert.Contains(snapshot.Replicas, r => r.Tenant == "acme");
        Assert.Contains(snapshot.Replicas, r => r.Tenant == "globex");
        Assert.Null(await fixture.Registry.GetSnapshotIfChangedAsync(snapshot.Version));

        // A replica re-announcing itself unchanged (as it does periodically) does not make edges refetch.
        var acme = snapshot.Replicas.Single(r => r.Tenant == "acme");
        Assert.Equal(snapshot.Version, await fixture.Registry.RegisterReplicaAsync(acme));
    }

    [Fact]
    public async Task A_certificate_for_a_name_the_tenant_was_not_given_is_refused_with_a_clear_message()
    {
        var acme = (await fixture.Registry.GetSnapshotIfChangedAsync(-1))!.Replicas.Single(r => r.Tenant == "acme");
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
        var acme = (await fixture.Registry.GetSnapshotIfChangedAsync(-1))!.Replicas.Single(r => r.Tenant == "acme");
        var error = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Registry.RegisterReplicaAsync(acme with { Replica = "impostor" }));
        Assert.Contains("acme/impostor", error.Message);
    }

    [Fact]
    public async Task A_tenant_the_operator_has_not_added_cannot_register()
    {
        var acme = (await fixture.Registry.GetSnapshotIfChangedAsync(-1))!.Replicas.Single(r => r.Tenant == "acme");
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
