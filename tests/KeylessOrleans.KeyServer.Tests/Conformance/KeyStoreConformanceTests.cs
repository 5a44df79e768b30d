using System.Security.Cryptography;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.Tests.Tls;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.KeyServer.Tests.Conformance;

/// <summary>A key store holding one RSA-2048 and one ECDSA P-256 key with certificate chains.</summary>
public interface IConformanceStore
{
    IKeyStore Store { get; }
    byte[] RsaSpki { get; }
    byte[] EcSpki { get; }
}

/// <summary>
/// What every key store must do, whatever holds the keys (PEM files or a PKCS#11 token): signatures that an
/// independent verifier accepts, and RSA decryption with implicit rejection.
/// </summary>
public abstract class KeyStoreConformanceTests<TStore>(TStore fixture) where TStore : IConformanceStore
{
    private KeyOperations Operations => new(fixture.Store);
    private string RsaKeyId => KeyIds.FromSubjectPublicKeyInfo(fixture.RsaSpki);
    private string EcKeyId => KeyIds.FromSubjectPublicKeyInfo(fixture.EcSpki);

    [Theory]
    [InlineData(SignatureScheme.RsaPssRsaeSha256)]
    [InlineData(SignatureScheme.RsaPssRsaeSha384)]
    [InlineData(SignatureScheme.RsaPssRsaeSha512)]
    public void Rsa_pss_certificate_verify_signatures_verify(SignatureScheme scheme)
    {
        var content = CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));
        var result = Operations.SignCertificateVerify(RsaKeyId, scheme, content);
        Assert.True(result.IsOk, result.Detail);
        Assert.True(IndependentVerifier.Verify(scheme, fixture.RsaSpki, content, result.Output!));
    }

    [Theory]
    [InlineData(SignatureScheme.RsaPkcs1Sha256)]
    [InlineData(SignatureScheme.RsaPkcs1Sha384)]
    [InlineData(SignatureScheme.RsaPkcs1Sha512)]
    public void Rsa_pkcs1_server_key_exchange_signatures_verify(SignatureScheme scheme)
    {
        var signedParams = ServerKeyExchangeParamsTests.ValidP256Params();
        var result = Operations.SignServerKeyExchange(RsaKeyId, scheme, signedParams);
        Assert.True(result.IsOk, result.Detail);
        Assert.True(IndependentVerifier.Verify(scheme, fixture.RsaSpki, signedParams, result.Output!));
    }

    [Theory]
    [InlineData(SignatureScheme.EcdsaSecp256r1Sha256, true)]
    [InlineData(SignatureScheme.EcdsaSecp256r1Sha256, false)]
    [InlineData(SignatureScheme.EcdsaSecp384r1Sha384, false)]
    public void Ecdsa_signatures_are_der_and_verify(SignatureScheme scheme, bool tls13)
    {
        var data = tls13 ? CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(48)) : ServerKeyExchangeParamsTests.ValidP256Params();
        var result = tls13 ? Operations.SignCertificateVerify(EcKeyId, scheme, data) : Operations.SignServerKeyExchange(EcKeyId, scheme, data);
        Assert.True(result.IsOk, result.Detail);
        Assert.Equal(0x30, result.Output![0]); // DER SEQUENCE
        Assert.True(IndependentVerifier.Verify(scheme, fixture.EcSpki, data, result.Output));
    }

    [Fact]
    public void A_valid_premaster_round_trips()
    {
        using var rsa = RSA.Create();
        rsa.ImportSubjectPublicKeyInfo(fixture.RsaSpki, out _);
        byte[] premaster = [0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
        var result = fixture.Store.DecryptPremaster(RsaKeyId, rsa.Encrypt(premaster, RSAEncryptionPadding.Pkcs1), 0x0303);
        Assert.True(result.IsOk, result.Detail);
        Assert.Equal(premaster, result.Output);
    }

    [Theory]
    [InlineData("bad block type")]
    [InlineData("no separator")]
    [InlineData("wrong version")]
    [InlineData("not below the modulus")]
    [InlineData("wrong length")]
    public void A_bad_ciphertext_yields_the_same_48_bytes_each_time_like_a_good_one(string kind)
    {
        var ciphertext = BadCiphertext(kind);
        var first = fixture.Store.DecryptPremaster(RsaKeyId, ciphertext, 0x0303);
        var second = fixture.Store.DecryptPremaster(RsaKeyId, ciphertext, 0x0303);
        Assert.Equal(KeyOperationStatus.Ok, first.Status);
        Assert.Null(first.Detail);
        Assert.Equal(48, first.Output!.Length);
        Assert.Equal(first.Output, second.Output);
    }

    [Fact]
    public void Both_keys_have_their_certificate_chains()
    {
        Assert.Contains(fixture.Store.Chains, c => c.KeyId == RsaKeyId);
        Assert.Contains(fixture.Store.Chains, c => c.KeyId == EcKeyId);
    }

    private byte[] BadCiphertext(string kind)
    {
        var publicKey = (RsaKeyParameters)PublicKeyFactory.CreateKey(fixture.RsaSpki);
        var k = (publicKey.Modulus.BitLength + 7) / 8;
        if (kind == "not below the modulus") return Enumerable.Repeat((byte)0xFF, k).ToArray();
        if (kind == "wrong length") return RandomNumberGenerator.GetBytes(k - 1);
        var em = new byte[k];
        em[1] = 0x02;
        for (var i = 2; i < k - 49; i++) em[i] = 0x5a;
        em[k - 48] = 0x03;
        em[k - 47] = 0x03;
        switch (kind)
        {
            case "bad block type": em[1] = 0x01; break;
            case "no separator": em[k - 49] = 0x42; break;
            case "wrong version": em[k - 47] = 0x01; break;
        }
        var engine = new RsaEngine();
        engine.Init(true, publicKey);
        var c = engine.ProcessBlock(em, 0, k);
        var ciphertext = new byte[k];
        c.CopyTo(ciphertext, k - c.Length);
        return ciphertext;
    }
}
