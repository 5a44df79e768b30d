using System.Security.Cryptography;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>
/// Two edges with cluster identities (edge-a, edge-rogue) and three tenants with policies: acme allows edge-a,
/// globex allows only edge-b, initech allows any certified edge but at 1 operation a second and no RSA decryption.
/// </summary>
public sealed class KeyAccessFixture : IAsyncLifetime
{
    public ClusterIdentities Identities { get; } = new();
    public ClusterIdentities ForeignIdentities { get; } = new("Someone else's CA");
    public TestCertificateAuthority WebCa { get; } = new();
    public TenantKeyFolder Acme { get; } = null!;
    public TenantKeyFolder Globex { get; private set; } = null!;
    public TenantKeyFolder Initech { get; private set; } = null!;
    public SiloPlan.Edge EdgeA { get; private set; } = null!;
    public SiloPlan.Edge EdgeRogue { get; private set; } = null!;
    public Dictionary<string, SiloPlan.OnPrem> Tenants { get; } = [];
    public KeylessTestCluster Cluster { get; private set; } = null!;

    public KeyAccessFixture() => Acme = new TenantKeyFolder(WebCa, ["www.acme.test"]);

    public async Task InitializeAsync()
    {
        Globex = new TenantKeyFolder(WebCa, ["globex.test"]);
        Initech = new TenantKeyFolder(WebCa, ["initech.test"]);
        EdgeA = new SiloPlan.Edge(HttpsPort: 0) { Identity = Identities.Issue(SiloIdentity.Edge("edge-a")) };
        EdgeRogue = new SiloPlan.Edge { Identity = Identities.Issue(SiloIdentity.Edge("edge-rogue")) };
        Tenants["acme"] = new SiloPlan.OnPrem("acme", "primary", Acme.Path) { Access = new KeyAccessOptions { EdgeCa = Identities.CaFile, AllowedEdges = ["edge-a"] } };
        Tenants["globex"] = new SiloPlan.OnPrem("globex", "primary", Globex.Path) { Access = new KeyAccessOptions { EdgeCa = Identities.CaFile, AllowedEdges = ["edge-b"] } };
        Tenants["initech"] = new SiloPlan.OnPrem("initech", "primary", Initech.Path)
        {
            Access = new KeyAccessOptions { EdgeCa = Identities.CaFile, PerEdgeRate = 1, PerEdgeBurst = 3, AllowRsaDecryption = false },
        };
        Cluster = await KeylessTestCluster.StartAsync([EdgeA, EdgeRogue, .. Tenants.Values]);
        foreach (var (tenant, host) in new[] { ("acme", "www.acme.test"), ("globex", "globex.test"), ("initech", "initech.test") })
            await Cluster.ServeTenantAsync(new TenantSettings(tenant, [host], new OriginEndpoint("127.0.0.1", 9)), host);
    }

    internal KeyServerClient Client(SiloPlan.Edge edge) => Cluster.Services(Cluster.Silo(edge)).GetRequiredService<KeyServerClient>();

    /// <summary>Key operations the tenant's key server has actually performed so far.</summary>
    public long Performed(string tenant) => Cluster.Services(Cluster.Silo(Tenants[tenant])).GetRequiredService<KeyServerMetrics>().OperationsPerformed;

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Acme.Dispose();
        Globex.Dispose();
        Initech.Dispose();
        WebCa.Dispose();
        Identities.Dispose();
        ForeignIdentities.Dispose();
    }
}

public sealed class KeyAccessTests(KeyAccessFixture fixture) : IClassFixture<KeyAccessFixture>
{
    private static byte[] Content() => CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));

    private static SignCertificateVerifyRequest CertificateVerify(KeyServerClient client, string tenant, string keyId, string host) =>
        new(client.Context(tenant, keyId, host, "192.0.2.9"), SignatureScheme.EcdsaSecp256r1Sha256, Content());

    private static SignServerKeyExchangeRequest ServerKeyExchange(KeyServerClient client, string tenant, string keyId, string host, byte[]? serverRandom = null)
    {
        using var ecdh = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var q = ecdh.ExportParameters(false).Q;
        var signed = ServerKeyExchangeParams.Build(TlsRandoms.Client(), serverRandom ?? TlsRandoms.Server(), ServerKeyExchangeParams.Secp256r1, [0x04, .. q.X!, .. q.Y!]);
        return new(client.Context(tenant, keyId, host, "192.0.2.9"), SignatureScheme.EcdsaSecp256r1Sha256, signed);
    }

    private DeriveMasterSecretRequest Decrypt(KeyServerClient client, TenantKeyFolder keys, string tenant, string host, byte[]? serverRandom = null)
    {
        byte[] premaster = [0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
        return new(client.Context(tenant, keys.RsaKeyId, host, "192.0.2.9"),
            RsaKeyExchanges.Fresh(keys.RsaPublic.Encrypt(premaster, RSAEncryptionPadding.Pkcs1), serverRandom: serverRandom));
    }

    [Fact]
    public async Task An_allowed_edge_is_served()
    {
        var client = fixture.Client(fixture.EdgeA);
        var result = await client.PerformAsync("primary", CertificateVerify(client, "acme", fixture.Acme.EcdsaKeyId, "www.acme.test"));
        Assert.Equal(KeyOperationStatus.Ok, result.Status);
    }

    [Fact]
    public async Task An_edge_allowed_for_one_tenant_asking_for_another_tenants_key_is_denied_and_no_key_is_touched()
    {
        var client = fixture.Client(fixture.EdgeA);
        var before = fixture.Performed("globex");
        var result = await client.PerformAsync("primary", CertificateVerify(client, "globex", fixture.Globex.EcdsaKeyId, "globex.test"));
        Assert.Equal(KeyOperationStatus.Unauthorized, result.Status);
        Assert.Contains("edge-a", result.Detail);
        Assert.Equal(before, fixture.Performed("globex"));
    }

    [Fact]
    public async Task A_silo_with_a_valid_cluster_certificate_that_is_not_an_allowed_edge_is_denied()
    {
        var client = fixture.Client(fixture.EdgeRogue);
        var before = fixture.Performed("acme");
        var result = await client.PerformAsync("primary", CertificateVerify(client, "acme", fixture.Acme.EcdsaKeyId, "www.acme.test"));
        Assert.Equal(KeyOperationStatus.Unauthorized, result.Status);
        Assert.Contains("edge-rogue", result.Detail);
        Assert.Equal(before, fixture.Performed("acme"));
    }

    [Fact]
    public async Task Forged_requests_straight_to_the_key_grain_are_denied_whatever_they_claim()
    {
        var grain = fixture.Cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("acme", "primary", fixture.Acme.EcdsaKeyId).ToString());
        var context = new KeyRequestContext("acme", fixture.Acme.EcdsaKeyId, "www.acme.test", "192.0.2.9", "edge-a"); // claims to be edge-a
        var before = fixture.Performed("acme");

        // No proof at all.
        var unsigned = await grain.PerformAsync(new SignCertificateVerifyRequest(context, SignatureScheme.EcdsaSecp256r1Sha256, Content()));
        // A proof from a certificate named edge-a, issued by another CA.
        var foreign = Signer(fixture.ForeignIdentities.Issue(SiloIdentity.Edge("edge-a")));
        var targetKey = new KeyGrainKey("acme", "primary", fixture.Acme.EcdsaKeyId);
        var foreignRequest = new SignCertificateVerifyRequest(context, SignatureScheme.EcdsaSecp256r1Sha256, Content());
        var foreignSigned = await grain.PerformAsync(foreignRequest with { Proof = foreign.Sign(targetKey, foreignRequest) });
        // edge-a's real proof for one request, attached to another.
        var edgeA = Signer(fixture.EdgeA.Identity!.Value);
        var genuine = new SignCertificateVerifyRequest(context, SignatureScheme.EcdsaSecp256r1Sha256, Content());
        var swapped = await grain.PerformAsync(new SignCertificateVerifyRequest(context, SignatureScheme.EcdsaSecp256r1Sha256, Content(), edgeA.Sign(targetKey, genuine)));
        // edge-a's proof for another key grain (another replica), replayed here.
        var elsewhere = await grain.PerformAsync(genuine with { Proof = edgeA.Sign(targetKey with { Replica = "backup" }, genuine) });

        Assert.Equal(KeyOperationStatus.Unauthorized, unsigned.Status);
        Assert.Contains("no edge proof", unsigned.Detail);
        Assert.Equal(KeyOperationStatus.Unauthorized, foreignSigned.Status);
        Assert.Contains("not issued by the cluster CA", foreignSigned.Detail);
        Assert.Equal(KeyOperationStatus.Unauthorized, swapped.Status);
        Assert.Contains("signature", swapped.Detail);
        Assert.Equal(KeyOperationStatus.Unauthorized, elsewhere.Status);
        Assert.Equal(before, fixture.Performed("acme"));

        // The same edge-a proof on its own request is accepted, once: the proof's nonce is remembered, and so is the
        // content (a freshly signed copy of the same request is refused too).
        var signedGenuine = genuine with { Proof = edgeA.Sign(targetKey, genuine) };
        Assert.Equal(KeyOperationStatus.Ok, (await grain.PerformAsync(signedGenuine)).Status);
        var replayed = await grain.PerformAsync(signedGenuine);
        Assert.Equal(KeyOperationStatus.Unauthorized, replayed.Status);
        Assert.Contains("proof was replayed", replayed.Detail);
        var resigned = await grain.PerformAsync(genuine with { Proof = edgeA.Sign(targetKey, genuine) });
        Assert.Equal(KeyOperationStatus.InvalidRequest, resigned.Status);
        Assert.Contains("already served", resigned.Detail);
    }

    private static EdgeProofSigner Signer((string Certificate, string Key) identity) =>
        new(Options.Create(new EdgeOptions { IdentityCertificate = identity.Certificate, IdentityKey = identity.Key }), TimeProvider.System);

    [Fact]
    public async Task Replayed_or_stale_server_key_exchange_and_decrypt_requests_are_refused()
    {
        var client = fixture.Client(fixture.EdgeA);
        var ske = ServerKeyExchange(client, "acme", fixture.Acme.EcdsaKeyId, "www.acme.test");
        Assert.Equal(KeyOperationStatus.Ok, (await client.PerformAsync("primary", ske)).Status);
        var skeAgain = await client.PerformAsync("primary", ske); // same server_random, newly signed by the edge
        Assert.Equal(KeyOperationStatus.InvalidRequest, skeAgain.Status);
        Assert.Contains("replayed", skeAgain.Detail);

        var stale = await client.PerformAsync("primary",
            ServerKeyExchange(client, "acme", fixture.Acme.EcdsaKeyId, "www.acme.test", TlsRandoms.Server(DateTimeOffset.UtcNow.AddMinutes(-5))));
        Assert.Equal(KeyOperationStatus.InvalidRequest, stale.Status);
        Assert.Contains("stale", stale.Detail);
        var noMarker = TlsRandoms.Server();
        noMarker[^1] ^= 1;
        Assert.Equal(KeyOperationStatus.InvalidRequest,
            (await client.PerformAsync("primary", ServerKeyExchange(client, "acme", fixture.Acme.EcdsaKeyId, "www.acme.test", noMarker))).Status);

        var decrypt = Decrypt(client, fixture.Acme, "acme", "www.acme.test");
        Assert.Equal(KeyOperationStatus.Ok, (await client.PerformAsync("primary", decrypt)).Status);
        var decryptAgain = await client.PerformAsync("primary", decrypt);
        Assert.Equal(KeyOperationStatus.InvalidRequest, decryptAgain.Status);
        Assert.Contains("replayed", decryptAgain.Detail);
        var staleDecrypt = await client.PerformAsync("primary",
            Decrypt(client, fixture.Acme, "acme", "www.acme.test", TlsRandoms.Server(DateTimeOffset.UtcNow.AddMinutes(5))));
        Assert.Equal(KeyOperationStatus.InvalidRequest, staleDecrypt.Status);
    }

    [Fact]
    public async Task A_host_name_the_keys_certificate_does_not_cover_is_denied()
    {
        var client = fixture.Client(fixture.EdgeA);
        var before = fixture.Performed("acme");
        var result = await client.PerformAsync("primary", CertificateVerify(client, "acme", fixture.Acme.EcdsaKeyId, "www.globex.test"));
        Assert.Equal(KeyOperationStatus.Unauthorized, result.Status);
        Assert.Contains("www.globex.test", result.Detail);
        Assert.Equal(before, fixture.Performed("acme"));
    }

    [Fact]
    public async Task The_tenants_rate_limit_and_operation_policy_are_enforced_with_typed_outcomes()
    {
        var client = fixture.Client(fixture.EdgeRogue); // initech allows any certified edge
        var results = new List<KeyOperationStatus>();
        for (var i = 0; i < 6; i++)
            results.Add((await client.PerformAsync("primary", CertificateVerify(client, "initech", fixture.Initech.EcdsaKeyId, "initech.test"))).Status);
        Assert.Equal(KeyOperationStatus.Ok, results[0]);
        Assert.Contains(KeyOperationStatus.RateLimited, results); // burst 3, then 1 a second

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var before = fixture.Performed("initech");
        var decrypt = await client.PerformAsync("primary", Decrypt(client, fixture.Initech, "initech", "initech.test"));
        Assert.Equal(KeyOperationStatus.Unauthorized, decrypt.Status);
        Assert.Contains("RSA key exchange", decrypt.Detail);
        Assert.Equal(before, fixture.Performed("initech"));
    }
}
