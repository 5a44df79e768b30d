using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>
/// Acme's key server as its own cluster (one replica, "primary", with a gateway), reached by an Orleans client over
/// static clustering, as edges reach tenants. The edge identities come from the operator's CA, the tenant's access
/// policy trusts that CA for edge proofs.
/// </summary>
public sealed class TenantClusterFixture : IAsyncLifetime
{
    public TestCertificateAuthority WebCa { get; } = new();
    public ClusterIdentities Operator { get; } = new("Operator's edge CA");
    public ClusterIdentities Stranger { get; } = new("Someone else's CA");
    public TenantKeyFolder Keys { get; private set; } = null!;
    public SiloPlan.OnPrem Primary { get; private set; } = null!;
    public TenantTestCluster Tenant { get; private set; } = null!;
    public IClusterClient Edge { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Keys = new TenantKeyFolder(WebCa, ["www.acme.test"]);
        Primary = new SiloPlan.OnPrem("acme", "primary", Keys.Path) { Access = new KeyAccessOptions { EdgeCa = Operator.CaFile } };
        Tenant = await TenantTestCluster.StartAsync("acme", Primary);
        Edge = Tenant.Edge;
    }

    internal EdgeProofSigner Signer(ClusterIdentities authority, string edge)
    {
        var (certificate, key) = authority.Issue(SiloIdentity.Edge(edge));
        return new EdgeProofSigner(Options.Create(new EdgeOptions { IdentityCertificate = certificate, IdentityKey = key }), TimeProvider.System);
    }

    public async Task DisposeAsync()
    {
        await Tenant.DisposeAsync();
        Keys.Dispose();
        WebCa.Dispose();
        Operator.Dispose();
        Stranger.Dispose();
    }
}

public sealed class TenantClusterTests(TenantClusterFixture fixture) : IClassFixture<TenantClusterFixture>
{
    private IKeyServerGrain Primary => fixture.Edge.GetGrain<IKeyServerGrain>("acme/primary");

    [Fact]
    public async Task An_edge_client_reads_the_replicas_chains_through_its_gateway_and_polls_cheaply_until_the_key_folder_changes()
    {
        var chains = await Primary.GetChainsIfChangedAsync(null);
        Assert.NotNull(chains);
        Assert.Equal(new[] { fixture.Keys.EcdsaKeyId, fixture.Keys.RsaKeyId }.Order(), chains.Chains.Select(c => c.KeyId).Order());
        Assert.All(chains.Chains, chain => Assert.Equal(["www.acme.test"], chain.HostNames));
        Assert.Null(await Primary.GetChainsIfChangedAsync(chains.Version));

        // A key added to the folder (hot reload) changes the version, and the next poll returns the new chains.
        var (added, _) = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP384);
        fixture.Keys.Add("added.pem", added, fixture.WebCa, LeafExtras.None, "api.acme.test");
        KeyServerChains? changed = null;
        Assert.True(await Poll.UntilAsync(async () => (changed = await Primary.GetChainsIfChangedAsync(chains.Version)) is not null, TimeSpan.FromSeconds(15)));
        Assert.NotEqual(chains.Version, changed!.Version);
        Assert.Contains(changed.Chains, c => c.KeyId == KeyIds.FromSubjectPublicKeyInfo(added.SubjectPublicKeyInfo) && c.HostNames.SequenceEqual(["api.acme.test"]));
        Assert.Null(await Primary.GetChainsIfChangedAsync(changed.Version));
        // A version of another process (another epoch) is never current.
        Assert.NotNull(await Primary.GetChainsIfChangedAsync("0000000000000000:" + changed.Version.Split(':')[1]));
    }

    [Theory]
    [InlineData(SignatureScheme.EcdsaSecp256r1Sha256)]
    [InlineData(SignatureScheme.RsaPssRsaeSha256)]
    public async Task The_replica_proves_possession_of_a_key_by_signing_the_edges_challenge_in_the_possession_structure(SignatureScheme scheme)
    {
        var chains = await Primary.GetChainsIfChangedAsync(null);
        var keyId = scheme == SignatureScheme.EcdsaSecp256r1Sha256 ? fixture.Keys.EcdsaKeyId : fixture.Keys.RsaKeyId;
        using var leaf = X509CertificateLoader.LoadCertificate(chains!.Chains.Single(c => c.KeyId == keyId).ChainDer[0]);
        var target = new KeyGrainKey("acme", "primary", keyId);
        var challenge = RandomNumberGenerator.GetBytes(KeyPossession.ChallengeLength);
        using var signer = fixture.Signer(fixture.Operator, "edge-a");
        var request = new ProvePossessionRequest(new KeyRequestContext("acme", keyId, "www.acme.test", null, "edge-a"), scheme, challenge);

        var result = await fixture.Edge.GetGrain<IKeyGrain>(target.ToString()).PerformAsync(request with { Proof = signer.Sign(target, request) });

        Assert.Equal(KeyOperationStatus.Ok, result.Status);
        Assert.True(Verifies(leaf, scheme, KeyPossession.SignedContent(target, challenge), result.Output!));
        // Bound to the grain it was asked of: the same signature does not pass for another replica's proof.
        Assert.False(Verifies(leaf, scheme, KeyPossession.SignedContent(target with { Replica = "backup" }, challenge), result.Output!));
    }

    private static bool Verifies(X509Certificate2 leaf, SignatureScheme scheme, byte[] content, byte[] signature) => scheme switch
    {
        SignatureScheme.EcdsaSecp256r1Sha256 => leaf.GetECDsaPublicKey()!.VerifyData(content, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence),
        SignatureScheme.RsaPssRsaeSha256 => leaf.GetRSAPublicKey()!.VerifyData(content, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
        _ => throw new ArgumentOutOfRangeException(nameof(scheme)),
    };

    [Fact]
    public async Task Grains_of_another_tenant_or_replica_are_refused_through_the_tenants_gateway()
    {
        // Placement finds no silo of globex (or of acme's absent replica) in acme's cluster: nothing activates anywhere.
        await Assert.ThrowsAnyAsync<Exception>(() => fixture.Edge.GetGrain<IKeyServerGrain>("globex/primary").GetChainsIfChangedAsync(null));
        await Assert.ThrowsAnyAsync<Exception>(() => fixture.Edge.GetGrain<IKeyServerGrain>("acme/backup").GetChainsIfChangedAsync(null));
        await Assert.ThrowsAnyAsync<Exception>(() => fixture.Edge.GetGrain<IKeyServerGrain>("acme").GetChainsIfChangedAsync(null));
        var foreignKey = fixture.Edge.GetGrain<IKeyGrain>(new KeyGrainKey("globex", "primary", fixture.Keys.EcdsaKeyId).ToString());
        await Assert.ThrowsAnyAsync<Exception>(() => foreignKey.DescribeAsync());
        Assert.NotNull(await Primary.GetChainsIfChangedAsync(null)); // the tenant's own replica still answers
    }

    [Fact]
    public async Task No_other_grain_interface_is_served_to_a_client_of_the_tenants_cluster()
    {
        // The silo hosts key grains and its key server grain only: the operator's registry is not there, and Orleans'
        // management grain (hosted by every silo unless removed) is refused by the key server's gate.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
            await fixture.Edge.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey).LookupHostAsync("www.acme.test"));
        await Assert.ThrowsAnyAsync<Exception>(() => fixture.Edge.GetGrain<IManagementGrain>(0).GetHosts());
    }
}

/// <summary>A tenant that allows 1 key operation a second, burst 3, for all edges together.</summary>
public sealed class TenantRateFixture : IAsyncLifetime
{
    public TestCertificateAuthority WebCa { get; } = new();
    public ClusterIdentities Operator { get; } = new("Operator's edge CA");
    public ClusterIdentities Stranger { get; } = new("Someone else's CA");
    public TenantKeyFolder Keys { get; private set; } = null!;
    public SiloPlan.OnPrem Primary { get; private set; } = null!;
    public TenantTestCluster Tenant { get; private set; } = null!;
    public IClusterClient Edge { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Keys = new TenantKeyFolder(WebCa, ["www.acme.test"]);
        Primary = new SiloPlan.OnPrem("acme", "primary", Keys.Path)
        {
            Access = new KeyAccessOptions { EdgeCa = Operator.CaFile, TenantRate = 1, TenantBurst = 3 },
        };
        Tenant = await TenantTestCluster.StartAsync("acme", Primary);
        Edge = Tenant.Edge;
    }

    public async Task DisposeAsync()
    {
        await Tenant.DisposeAsync();
        Keys.Dispose();
        WebCa.Dispose();
        Operator.Dispose();
        Stranger.Dispose();
    }
}

public sealed class TenantRateTests(TenantRateFixture fixture) : IClassFixture<TenantRateFixture>
{
    private static EdgeProofSigner Signer(ClusterIdentities authority, string edge)
    {
        var (certificate, key) = authority.Issue(SiloIdentity.Edge(edge));
        return new EdgeProofSigner(Options.Create(new EdgeOptions { IdentityCertificate = certificate, IdentityKey = key }), TimeProvider.System);
    }

    [Fact]
    public async Task A_flood_of_forged_requests_and_session_opens_does_not_use_up_the_tenants_rate()
    {
        var target = new KeyGrainKey("acme", "primary", fixture.Keys.EcdsaKeyId);
        var grain = fixture.Edge.GetGrain<IKeyGrain>(target.ToString());
        ProvePossessionRequest Request() => new(new KeyRequestContext("acme", target.KeyId, "www.acme.test", null, "edge-a"),
            SignatureScheme.EcdsaSecp256r1Sha256, RandomNumberGenerator.GetBytes(KeyPossession.ChallengeLength));
        using var forger = Signer(fixture.Stranger, "edge-a"); // claims edge-a, certified by another CA
        using var edgeA = Signer(fixture.Operator, "edge-a");
        var denials = fixture.Tenant.Services(fixture.Primary).GetRequiredService<KeyServerMetrics>();
        var performedBefore = denials.OperationsPerformed;

        // Ten times the burst of forged key requests and of forged session opens, in a second.
        var forged = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ =>
        {
            var request = Request();
            return grain.PerformAsync(request with { Proof = forger.Sign(target, request) });
        }));
        var forgedSessions = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => grain.OpenEdgeSessionAsync(forger.NewSessionRequest("acme", "primary").Request)));
        Assert.All(forged, result => Assert.Equal(KeyOperationStatus.Unauthorized, result.Status));
        Assert.All(forgedSessions, grant => Assert.Contains("not issued by the cluster CA", grant.Problem));
        Assert.Equal(performedBefore, denials.OperationsPerformed);

        // The real edge still gets its burst: a session and two key operations.
        var session = await grain.OpenEdgeSessionAsync(edgeA.NewSessionRequest("acme", "primary").Request);
        Assert.Null(session.Problem);
        for (var i = 0; i < 2; i++)
        {
            var request = Request();
            Assert.Equal(KeyOperationStatus.Ok, (await grain.PerformAsync(request with { Proof = edgeA.Sign(target, request) })).Status);
        }

        // And the tenant's limit still holds for authenticated edges: well past the burst, requests are rate limited.
        var results = new List<KeyOperationStatus>();
        for (var i = 0; i < 5; i++)
        {
            var request = Request();
            results.Add((await grain.PerformAsync(request with { Proof = edgeA.Sign(target, request) })).Status);
        }
        Assert.Contains(KeyOperationStatus.RateLimited, results);
    }
}
