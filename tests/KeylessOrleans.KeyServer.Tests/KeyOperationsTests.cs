using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Tests.Tls;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.KeyServer.Tests;

public sealed class KeyOperationsTests(KeyOperationsFixture fixture) : IClassFixture<KeyOperationsFixture>
{
    private TestKey Key(string name) => name switch
    {
        "rsa" => fixture.Folder.Rsa,
        "p256" => fixture.Folder.Ecdsa,
        "p384" => fixture.P384,
        "ed25519" => fixture.Folder.Ed25519!,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private string KeyId(string name) => KeyIds.FromSubjectPublicKeyInfo(Key(name).SubjectPublicKeyInfo);

    public static TheoryData<string, SignatureScheme> Tls13Schemes() => new()
    {
        { "rsa", SignatureScheme.RsaPssRsaeSha256 },
        { "rsa", SignatureScheme.RsaPssRsaeSha384 },
        { "rsa", SignatureScheme.RsaPssRsaeSha512 },
        { "p256", SignatureScheme.EcdsaSecp256r1Sha256 },
        { "p384", SignatureScheme.EcdsaSecp384r1Sha384 },
        { "ed25519", SignatureScheme.Ed25519 },
    };

    public static TheoryData<string, SignatureScheme> Tls12Schemes() => new()
    {
        { "rsa", SignatureScheme.RsaPkcs1Sha256 },
        { "rsa", SignatureScheme.RsaPkcs1Sha384 },
        { "rsa", SignatureScheme.RsaPkcs1Sha512 },
        { "rsa", SignatureScheme.RsaPssRsaeSha256 },
        { "rsa", SignatureScheme.RsaPssRsaeSha384 },
        { "rsa", SignatureScheme.RsaPssRsaeSha512 },
        { "p256", SignatureScheme.EcdsaSecp256r1Sha256 },
        { "p256", SignatureScheme.EcdsaSecp384r1Sha384 },
        { "p384", SignatureScheme.EcdsaSecp256r1Sha256 },
        { "p384", SignatureScheme.EcdsaSecp384r1Sha384 },
        { "ed25519", SignatureScheme.Ed25519 },
    };

    [Theory]
    [InlineData("p256", true)]
    [InlineData("p384", false)]
    [InlineData("rsa", false)]
    [InlineData("ed25519", false)]
    public void Only_p256_signatures_run_in_the_key_grains_turn(string key, bool inTurn)
    {
        var context = new KeyRequestContext("acme", KeyId(key), "www.acme.test", null, "edge");
        var content = CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));

        Assert.Equal(inTurn, fixture.Operations.RunsInTurn(KeyId(key), new SignCertificateVerifyRequest(context, SignatureScheme.EcdsaSecp256r1Sha256, content)));
        Assert.Equal(inTurn, fixture.Operations.RunsInTurn(KeyId(key), new SignServerKeyExchangeRequest(context, SignatureScheme.EcdsaSecp256r1Sha256, content)));
        // Rare operations go to the thread pool whatever the key.
        Assert.False(fixture.Operations.RunsInTurn(KeyId(key), new DelegateCredentialRequest(context, new byte[32],
            SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.EcdsaSecp256r1Sha256, [], 3600)));
        Assert.False(fixture.Operations.RunsInTurn("no-such-key", new SignCertificateVerifyRequest(context, SignatureScheme.EcdsaSecp256r1Sha256, content)));
    }

    [Theory]
    [MemberData(nameof(Tls13Schemes))]
    public void Tls13_certificate_verify_signature_verifies_with_an_independent_verifier(string key, SignatureScheme scheme)
    {
        var content = CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(48));
        var result = fixture.Operations.SignCertificateVerify(KeyId(key), scheme, content);

        Assert.Equal(KeyOperationStatus.Ok, result.Status);
        Assert.True(IndependentVerifier.Verify(scheme, Key(key).SubjectPublicKeyInfo, content, result.Output!));
    }

    [Theory]
    [MemberData(nameof(Tls12Schemes))]
    public void Tls12_server_key_exchange_signature_verifies_with_an_independent_verifier(string key, SignatureScheme scheme)
    {
        var signedParams = ServerKeyExchangeParamsTests.ValidP256Params();
        var result = fixture.Operations.SignServerKeyExchange(KeyId(key), scheme, signedParams);

        Assert.Equal(KeyOperationStatus.Ok, result.Status);
        Assert.True(IndependentVerifier.Verify(scheme, Key(key).SubjectPublicKeyInfo, signedParams, result.Output!));
    }

    [Theory]
    [InlineData(SignatureScheme.RsaPkcs1Sha256)]
    [InlineData(SignatureScheme.RsaPssRsaeSha256)]
    public void Tls12_dhe_params_of_an_rfc7919_group_are_signed_and_verify(SignatureScheme scheme)
    {
        var signedParams = ServerDHParamsTests.ValidFfdhe2048Params();
        var result = fixture.Operations.SignServerKeyExchange(KeyId("rsa"), scheme, signedParams);

        Assert.Equal(KeyOperationStatus.Ok, result.Status);
        Assert.True(IndependentVerifier.Verify(scheme, Key("rsa").SubjectPublicKeyInfo, signedParams, result.Output!));
    }

    [Fact]
    public void Tls12_dhe_params_with_a_non_standard_prime_are_refused_before_signing()
    {
        var signedParams = ServerDHParamsTests.ValidFfdhe2048Params();
        signedParams[64 + 2 + 100] ^= 0x10; // inside dh_p

        var result = fixture.Operations.SignServerKeyExchange(KeyId("rsa"), SignatureScheme.RsaPssRsaeSha256, signedParams);

        Assert.Equal(KeyOperationStatus.InvalidRequest, result.Status);
        Assert.Contains("RFC 7919", result.Detail);
        Assert.Null(result.Output);
    }

    [Fact]
    public void A_signature_over_other_content_does_not_verify()
    {
        var content = CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));
        var result = fixture.Operations.SignCertificateVerify(KeyId("p256"), SignatureScheme.EcdsaSecp256r1Sha256, content);
        content[^1] ^= 1;
        Assert.False(IndependentVerifier.Verify(SignatureScheme.EcdsaSecp256r1Sha256, Key("p256").SubjectPublicKeyInfo, content, result.Output!));
    }

    public static TheoryData<string, ushort> SchemesRefusedInTls13() => new()
    {
        { "rsa", (ushort)SignatureScheme.RsaPkcs1Sha256 },     // PKCS#1 v1.5 is not allowed in TLS 1.3
        { "rsa", (ushort)SignatureScheme.RsaPkcs1Sha512 },
        { "rsa", 0x0201 },                                     // rsa_pkcs1_sha1
        { "p256", 0x0203 },                                    // ecdsa_sha1
        { "p256", (ushort)SignatureScheme.EcdsaSecp384r1Sha384 }, // curve does not match the key
        { "p384", (ushort)SignatureScheme.EcdsaSecp256r1Sha256 },
        { "p256", (ushort)SignatureScheme.RsaPssRsaeSha256 },  // RSA scheme for an EC key
        { "rsa", (ushort)SignatureScheme.EcdsaSecp256r1Sha256 },
        { "rsa", (ushort)SignatureScheme.Ed25519 },
        { "rsa", 0x0809 },                                     // rsa_pss_pss_sha256: the key is rsaEncryption
    };

    [Theory]
    [MemberData(nameof(SchemesRefusedInTls13))]
    public void Tls13_refuses_schemes_the_key_may_not_use(string key, ushort scheme)
    {
        var result = fixture.Operations.SignCertificateVerify(KeyId(key), (SignatureScheme)scheme, CertificateVerifyContent.Build(new byte[32]));
        Assert.Equal(KeyOperationStatus.InvalidRequest, result.Status);
        Assert.Null(result.Output);
    }

    public static TheoryData<string, ushort> SchemesRefusedInTls12() => new()
    {
        { "rsa", 0x0201 },   // rsa_pkcs1_sha1
        { "rsa", 0x0101 },   // rsa_pkcs1_md5
        { "p256", 0x0203 },  // ecdsa_sha1
        { "p256", (ushort)SignatureScheme.RsaPkcs1Sha256 },
        { "ed25519", (ushort)SignatureScheme.EcdsaSecp256r1Sha256 },
    };

    [Theory]
    [MemberData(nameof(SchemesRefusedInTls12))]
    public void Tls12_refuses_md5_sha1_and_schemes_of_another_key_type(string key, ushort scheme)
    {
        var result = fixture.Operations.SignServerKeyExchange(KeyId(key), (SignatureScheme)scheme, ServerKeyExchangeParamsTests.ValidP256Params());
        Assert.Equal(KeyOperationStatus.InvalidRequest, result.Status);
    }

    [Fact]
    public void Malformed_content_is_refused_before_any_signature_is_made()
    {
        var bareDigest = SHA256.HashData("anything"u8);
        Assert.Equal(KeyOperationStatus.InvalidRequest,
            fixture.Operations.SignCertificateVerify(KeyId("rsa"), SignatureScheme.RsaPssRsaeSha256, bareDigest).Status);
        Assert.Equal(KeyOperationStatus.InvalidRequest,
            fixture.Operations.SignServerKeyExchange(KeyId("rsa"), SignatureScheme.RsaPkcs1Sha256, bareDigest).Status);
    }

    [Fact]
    public void Unknown_key_is_reported_as_key_not_found()
    {
        var unknown = new string('0', 64);
        Assert.Equal(KeyOperationStatus.KeyNotFound, fixture.Operations.SignCertificateVerify(unknown, SignatureScheme.EcdsaSecp256r1Sha256, CertificateVerifyContent.Build(new byte[32])).Status);
        Assert.Equal(KeyOperationStatus.KeyNotFound, fixture.Operations.DeriveMasterSecret(unknown, RsaKeyExchanges.Fresh(new byte[256])).Status);
        Assert.Equal(KeyOperationStatus.KeyNotFound, fixture.Operations.Describe(unknown).Status);
    }

    [Fact]
    public void Ec_and_ed25519_keys_refuse_to_decrypt()
    {
        Assert.Equal(KeyOperationStatus.InvalidRequest, fixture.Operations.DeriveMasterSecret(KeyId("p256"), RsaKeyExchanges.Fresh(new byte[64])).Status);
        Assert.Equal(KeyOperationStatus.InvalidRequest, fixture.Operations.DeriveMasterSecret(KeyId("ed25519"), RsaKeyExchanges.Fresh(new byte[64])).Status);
    }

    [Fact]
    public void Describe_gives_the_public_key_and_allowed_schemes_only()
    {
        var description = fixture.Operations.Describe(KeyId("rsa")).Description!;
        Assert.Equal(KeyAlgorithm.Rsa, description.Algorithm);
        Assert.Equal(2048, description.KeySizeBits);
        Assert.Equal(fixture.Folder.Rsa.SubjectPublicKeyInfo, description.SubjectPublicKeyInfo);
        Assert.True(description.CanDecrypt);
        Assert.Contains(SignatureScheme.RsaPssRsaeSha256, description.AllowedSchemes);
        Assert.False(fixture.Operations.Describe(KeyId("p256")).Description!.CanDecrypt);
    }
}
