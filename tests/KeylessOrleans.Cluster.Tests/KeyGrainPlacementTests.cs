using KeylessOrleans.TestSupport;
using System.Diagnostics;
using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Cluster.Tests;

public sealed class KeyGrainPlacementTests(TwoTenantsFixture fixture) : IClassFixture<TwoTenantsFixture>
{
    private IManagementGrain Management => fixture.Cluster.Grains.GetGrain<IManagementGrain>(0);

    private SignCertificateVerifyRequest CertificateVerify(string tenant, string keyId, SignatureScheme scheme) =>
        new(fixture.KeyClient.Context(tenant, keyId, tenant == "globex" ? "globex.test" : "www.acme.test", "192.0.2.7"), scheme,
            CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32)));

    [Fact]
    public async Task Each_tenants_key_grain_activates_only_on_its_own_on_prem_silo()
    {
        var acmeRsa = await fixture.KeyClient.PerformAsync("primary",
            CertificateVerify("acme", fixture.AcmeKeys.RsaKeyId, SignatureScheme.RsaPssRsaeSha256));
        var globexEc = await fixture.KeyClient.PerformAsync("primary",
            CertificateVerify("globex", fixture.GlobexKeys.EcdsaKeyId, SignatureScheme.EcdsaSecp256r1Sha256));
        Assert.Equal(KeyOperationStatus.Ok, acmeRsa.Status);
        Assert.Equal(KeyOperationStatus.Ok, globexEc.Status);

        var acmeGrain = fixture.Cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("acme", "primary", fixture.AcmeKeys.RsaKeyId).ToString());
        var globexGrain = fixture.Cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("globex", "primary", fixture.GlobexKeys.EcdsaKeyId).ToString());
        Assert.Equal(fixture.Cluster.Silo(fixture.AcmePlan).SiloAddress, await Management.GetActivationAddress(acmeGrain));
        Assert.Equal(fixture.Cluster.Silo(fixture.GlobexPlan).SiloAddress, await Management.GetActivationAddress(globexGrain));
    }

    [Fact]
    public async Task A_signature_made_through_the_cluster_verifies_with_the_public_key_only()
    {
        var request = CertificateVerify("acme", fixture.AcmeKeys.EcdsaKeyId, SignatureScheme.EcdsaSecp256r1Sha256);
        var result = await fixture.KeyClient.PerformAsync("primary", request);

        Assert.Equal(KeyOperationStatus.Ok, result.Status);
        Assert.True(fixture.AcmeKeys.EcdsaPublic.VerifyData(request.SignedContent, result.Output!, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
    }

    [Fact]
    public async Task A_request_of_a_type_the_key_server_does_not_serve_is_refused_as_invalid_not_failed()
    {
        var request = new UnservedKeyRequest(fixture.KeyClient.Context("acme", fixture.AcmeKeys.EcdsaKeyId, "www.acme.test", "192.0.2.7"), new byte[32]);

        var result = await fixture.KeyClient.PerformAsync("primary", request);

        Assert.Equal(KeyOperationStatus.InvalidRequest, result.Status);
        Assert.Contains($"does not perform {UnservedKeyRequest.OperationName}", result.Detail);
    }

    [Fact]
    public async Task A_master_secret_derived_through_the_cluster_is_the_handshakes_and_no_premaster_comes_back()
    {
        byte[] premaster = [0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
        var exchange = RsaKeyExchanges.Fresh(fixture.AcmeKeys.RsaPublic.Encrypt(premaster, RSAEncryptionPadding.Pkcs1));
        var result = await fixture.KeyClient.PerformAsync("primary",
            new DeriveMasterSecretRequest(fixture.KeyClient.Context("acme", fixture.AcmeKeys.RsaKeyId, "www.acme.test", null), exchange));

        Assert.Equal(KeyOperationStatus.Ok, result.Status);
        Assert.Equal(IndependentPrf.MasterSecret(premaster, exchange.ClientRandom, exchange.ServerRandom), result.Output);
        Assert.NotEqual(premaster, result.Output);
    }

    [Fact]
    public async Task A_tenant_without_a_live_silo_is_unavailable_within_the_deadline_and_nothing_activates_elsewhere()
    {
        var keyId = fixture.AcmeKeys.RsaKeyId;
        var clock = Stopwatch.StartNew();
        var nobody = await fixture.KeyClient.PerformAsync("primary", CertificateVerify("nobody", keyId, SignatureScheme.RsaPssRsaeSha256));
        var wrongReplica = await fixture.KeyClient.PerformAsync("backup", CertificateVerify("acme", keyId, SignatureScheme.RsaPssRsaeSha256));
        clock.Stop();

        Assert.Equal(KeyOperationStatus.Unavailable, nobody.Status);
        Assert.Equal(KeyOperationStatus.Unavailable, wrongReplica.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2 * 2.5), $"took {clock.Elapsed}");
        Assert.Null(await Management.GetActivationAddress(fixture.Cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("nobody", "primary", keyId).ToString())));
        Assert.Null(await Management.GetActivationAddress(fixture.Cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("acme", "backup", keyId).ToString())));
    }

    [Fact]
    public async Task A_request_naming_another_tenant_or_key_than_its_grain_is_refused()
    {
        var grain = fixture.Cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("acme", "primary", fixture.AcmeKeys.RsaKeyId).ToString());
        var forgedTenant = new SignCertificateVerifyRequest(
            new KeyRequestContext("globex", fixture.AcmeKeys.RsaKeyId, "www.acme.test", null, "edge"), SignatureScheme.RsaPssRsaeSha256,
            CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32)));
        var forgedKey = forgedTenant with
        {
            Context = forgedTenant.Context with { Tenant = "acme", KeyId = fixture.AcmeKeys.EcdsaKeyId },
            SignedContent = CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32)),
        };

        Assert.Equal(KeyOperationStatus.InvalidRequest, (await grain.PerformAsync(forgedTenant)).Status);
        Assert.Equal(KeyOperationStatus.InvalidRequest, (await grain.PerformAsync(forgedKey)).Status);
    }

    [Fact]
    public async Task A_key_the_tenants_silo_does_not_hold_is_key_not_found()
    {
        var unknown = new string('a', 64);
        var result = await fixture.KeyClient.PerformAsync("primary", CertificateVerify("acme", unknown, SignatureScheme.RsaPssRsaeSha256));
        Assert.Equal(KeyOperationStatus.KeyNotFound, result.Status);
    }
}
