using System.Net.Security;
using System.Security.Authentication;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests.Federation;

/// <summary>
/// Tenants' key servers as clusters of their own: the edge serves them as clients, believes only the names the operator
/// gave each tenant, and admits a chain only when the replica proves it holds the key.
/// </summary>
public sealed class FederatedTenantsTests(FederatedTenantsFixture tenants) : IClassFixture<FederatedTenantsFixture>
{
    [Theory]
    [InlineData(FederatedTenantsFixture.AcmeHost)]
    [InlineData(FederatedTenantsFixture.InitechHost)]
    public async Task Tls13_handshake_is_served_with_the_key_in_the_tenants_own_cluster(string host)
    {
        var (protocol, response) = await tenants.FetchAsync(host, SslProtocols.Tls13);

        Assert.Equal(SslProtocols.Tls13, protocol);
        Assert.StartsWith("HTTP/1.1 200 OK", response);
        Assert.EndsWith(TestOrigin.Body, response);
    }

    [Theory]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)]
    [InlineData(TlsCipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256)]
    public async Task Tls12_handshakes_are_served_through_the_tenants_cluster(TlsCipherSuite suite)
    {
        var (protocol, response) = await tenants.FetchAsync(FederatedTenantsFixture.AcmeHost, SslProtocols.Tls12, [suite]);

        Assert.Equal(SslProtocols.Tls12, protocol);
        Assert.StartsWith("HTTP/1.1 200 OK", response);
    }

    [Fact]
    public void Key_servers_never_join_the_operators_cluster()
    {
        Assert.Single(tenants.Operator.Cluster.Silos); // the edge alone: three tenants, and none of them a member
    }

    [Fact]
    public void A_chain_naming_another_tenants_host_is_refused_and_never_routes_that_name()
    {
        var route = tenants.Routes.Resolve(FederatedTenantsFixture.AcmeHost)!;
        var initech = tenants.Routes.FederatedReplica("initech", "primary")!;

        Assert.Equal("acme", route.TenantName);
        Assert.DoesNotContain(route.Keys.Keys, k => k.KeyId == tenants.StolenKeyId);
        Assert.DoesNotContain(initech.Chains, c => c.KeyId == tenants.StolenKeyId);
        Assert.Equal(2, initech.Chains.Count); // its own RSA and ECDSA chains are admitted
    }

    [Fact]
    public async Task A_chain_whose_key_the_replica_cannot_prove_is_refused_and_its_name_fails_with_an_alert()
    {
        var umbrella = tenants.Routes.FederatedReplica("umbrella", "primary")!;

        Assert.Empty(umbrella.Chains);
        Assert.Empty(tenants.Routes.Resolve(FederatedTenantsFixture.UmbrellaHost)!.Keys.Keys);
        await Assert.ThrowsAnyAsync<AuthenticationException>(() => tenants.FetchAsync(FederatedTenantsFixture.UmbrellaHost, SslProtocols.Tls13));
    }

    [Fact]
    public async Task A_proven_key_servers_wrong_signature_is_never_sent_and_fails_the_handshake_as_a_bad_answer()
    {
        using var meters = new EdgeMeterRecorder(tenants.EdgeServices, (Diagnostics.EdgeMetrics.BadAnswers, "tenant"));

        Assert.Single(tenants.Routes.Resolve(FederatedTenantsFixture.WayneHost)!.Keys.Keys); // its chain was proven and admitted
        await Assert.ThrowsAnyAsync<AuthenticationException>(() => tenants.FetchAsync(FederatedTenantsFixture.WayneHost, SslProtocols.Tls13));
        await Assert.ThrowsAnyAsync<AuthenticationException>(() => tenants.FetchAsync(FederatedTenantsFixture.WayneHost, SslProtocols.Tls12,
            [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]));

        Assert.True(meters.Total(Diagnostics.EdgeMetrics.BadAnswers, "wayne") >= 2, string.Join(", ", meters.ByTag(Diagnostics.EdgeMetrics.BadAnswers)));
    }
}
