using System.Security.Cryptography;
using System.Text;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>No grain message — request, response or error — ever carries private key material.</summary>
public sealed class KeyCustodyTests(TwoTenantsFixture fixture) : IClassFixture<TwoTenantsFixture>
{
    [Fact]
    public async Task No_grain_message_contains_private_key_bytes()
    {
        await ExerciseEveryKeyOperationAsync();

        // The recorder must really see the traffic, or the test below could not fail.
        Assert.True(fixture.Cluster.Calls.Contains(fixture.AcmeKeys.Rsa.SubjectPublicKeyInfo), "public key of a described key was not recorded");
        Assert.Contains(fixture.Cluster.Calls.Messages, m => m.Method.Contains(SignCertificateVerifyRequest.OperationName));

        foreach (var key in fixture.AcmeKeys.AllKeys.Concat(fixture.GlobexKeys.AllKeys))
        {
            foreach (var secret in key.Secrets)
                Assert.False(fixture.Cluster.Calls.Contains(secret), $"a {key.Kind} secret value crossed the wire");
            Assert.False(fixture.Cluster.Calls.Contains(key.Pkcs8), $"{key.Kind} PKCS#8 crossed the wire");
            Assert.False(fixture.Cluster.Calls.Contains(key.PemDer), $"{key.Kind} PEM body crossed the wire");
            foreach (var pemLine in PemBodyLines(key))
            {
                Assert.False(fixture.Cluster.Calls.Contains(Encoding.UTF8.GetBytes(pemLine)), $"{key.Kind} PEM text crossed the wire");
                Assert.False(fixture.Cluster.Calls.Contains(Encoding.Unicode.GetBytes(pemLine)), $"{key.Kind} PEM text crossed the wire");
            }
        }
    }

    private static IEnumerable<string> PemBodyLines(TestKey key) =>
        key.Pem.Split('\n').Where(line => line.Length >= 32 && !line.StartsWith("-----", StringComparison.Ordinal));

    private async Task ExerciseEveryKeyOperationAsync()
    {
        var client = fixture.KeyClient;
        var acme = fixture.AcmeKeys;
        var edKeyId = KeyIds.FromSubjectPublicKeyInfo(acme.Ed25519!.SubjectPublicKeyInfo);
        var context = (string keyId) => client.Context("acme", keyId, "www.acme.test", "198.51.100.1");
        // Each request is new: the key server refuses replays, and refused requests would exercise less.
        byte[] Content() => CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));
        using var ecdh = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var q = ecdh.ExportParameters(false).Q;
        byte[] Ske() => ServerKeyExchangeParams.Build(TlsRandoms.Client(), TlsRandoms.Server(), ServerKeyExchangeParams.Secp256r1, [0x04, .. q.X!, .. q.Y!]);

        var results = new List<KeyOperationResult>
        {
            await client.PerformAsync("primary", new SignCertificateVerifyRequest(context(acme.RsaKeyId), SignatureScheme.RsaPssRsaeSha256, Content())),
            await client.PerformAsync("primary", new SignCertificateVerifyRequest(context(acme.EcdsaKeyId), SignatureScheme.EcdsaSecp256r1Sha256, Content())),
            await client.PerformAsync("primary", new SignCertificateVerifyRequest(context(edKeyId), SignatureScheme.Ed25519, Content())),
            await client.PerformAsync("primary", new SignServerKeyExchangeRequest(context(acme.RsaKeyId), SignatureScheme.RsaPkcs1Sha256, Ske())),
            await client.PerformAsync("primary", new SignServerKeyExchangeRequest(context(acme.EcdsaKeyId), SignatureScheme.EcdsaSecp256r1Sha256, Ske())),
        };
        byte[] premaster = [0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
        results.Add(await client.PerformAsync("primary", new DeriveMasterSecretRequest(context(acme.RsaKeyId), RsaKeyExchanges.Fresh(acme.RsaPublic.Encrypt(premaster, RSAEncryptionPadding.Pkcs1)))));
        results.Add(await client.PerformAsync("primary", new DeriveMasterSecretRequest(context(acme.RsaKeyId), RsaKeyExchanges.Fresh(RandomNumberGenerator.GetBytes(256)))));
        Assert.All(results, r => Assert.Equal(KeyOperationStatus.Ok, r.Status)); // the key operations really ran
        // Refused requests too: their error details must not leak anything either.
        await client.PerformAsync("primary", new SignCertificateVerifyRequest(context(acme.RsaKeyId), SignatureScheme.RsaPkcs1Sha256, Content()));
        await client.PerformAsync("primary", new SignServerKeyExchangeRequest(context(acme.EcdsaKeyId), SignatureScheme.EcdsaSecp256r1Sha256, Content()));
        foreach (var keyId in new[] { acme.RsaKeyId, acme.EcdsaKeyId, edKeyId })
            await fixture.Cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("acme", "primary", keyId).ToString()).DescribeAsync();
        await fixture.Registry.LookupHostAsync("www.acme.test");
        await fixture.Registry.GetTenantAsync("acme");
        await fixture.Registry.ListTenantsAsync(null, 10);
    }
}
