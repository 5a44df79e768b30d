using System.Security.Cryptography;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.Edge.Tests.KeyAccess;

/// <summary>
/// What the edge accepts from a key server: only signatures by the served certificate's key over exactly the content
/// asked for, and only delegated credentials for exactly the key and schemes asked for, signed by that key.
/// </summary>
public sealed class AnswerCheckTests : IDisposable
{
    private static readonly byte[] Content = CertificateVerifyContent();
    private readonly TestCertificateAuthority _ca = new();
    private readonly AnswerCheck _check = new();

    public static TheoryData<SignatureScheme> Schemes() =>
    [
        SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.EcdsaSecp384r1Sha384, SignatureScheme.RsaPssRsaeSha256,
        SignatureScheme.RsaPssRsaeSha384, SignatureScheme.RsaPkcs1Sha256, SignatureScheme.RsaPkcs1Sha512, SignatureScheme.Ed25519,
    ];

    [Theory]
    [MemberData(nameof(Schemes))]
    public void A_signature_by_the_certificates_key_over_the_asked_content_is_accepted_and_nothing_else(SignatureScheme scheme)
    {
        var (certificate, sign) = Issue(scheme);
        var (_, signByAnother) = Issue(scheme);
        var good = sign(Content);

        Assert.Null(_check.SignatureProblem(certificate, scheme, Content, good));
        Assert.NotNull(_check.SignatureProblem(certificate, scheme, Content, [.. good[..^1], (byte)(good[^1] ^ 1)])); // corrupted
        Assert.NotNull(_check.SignatureProblem(certificate, scheme, Content, signByAnother(Content))); // another key
        Assert.NotNull(_check.SignatureProblem(certificate, scheme, [.. Content[..^1], (byte)(Content[^1] ^ 1)], good)); // other content
        Assert.NotNull(_check.SignatureProblem(certificate, scheme, Content, RandomNumberGenerator.GetBytes(good.Length))); // garbage
        Assert.NotNull(_check.SignatureProblem(certificate, scheme, Content, [])); // empty
    }

    [Fact]
    public void A_signature_under_a_scheme_of_another_key_type_is_refused()
    {
        var (certificate, sign) = Issue(SignatureScheme.RsaPssRsaeSha256);
        Assert.NotNull(_check.SignatureProblem(certificate, SignatureScheme.EcdsaSecp256r1Sha256, Content, sign(Content)));
        // RSA PKCS#1 v1.5 and PSS are different schemes, not interchangeable.
        Assert.NotNull(_check.SignatureProblem(certificate, SignatureScheme.RsaPkcs1Sha256, Content, sign(Content)));
    }

    [Theory]
    [InlineData(SignatureScheme.EcdsaSecp256r1Sha256)]
    [InlineData(SignatureScheme.Ed25519)]
    public void A_delegated_credential_is_accepted_only_for_the_asked_key_and_schemes_under_the_certificates_key(SignatureScheme certificateScheme)
    {
        var (certificate, sign) = Issue(certificateScheme);
        var (_, signByAnother) = Issue(certificateScheme);
        using var delegated = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var ask = new DelegateCredentialRequest(AcmeContext, SHA256.HashData(certificate), certificateScheme, SignatureScheme.EcdsaSecp256r1Sha256,
            delegated.ExportSubjectPublicKeyInfo(), 3600, PossessionSignature: []);
        byte[] Credential(byte[] publicKey, SignatureScheme verifyScheme, Func<byte[], byte[]> signer)
        {
            var credential = DelegatedCredential.EncodeCredential(123_456, verifyScheme, publicKey);
            return DelegatedCredential.Encode(credential, certificateScheme, signer(DelegatedCredential.SignedContent(certificate, credential, certificateScheme)));
        }

        var good = Credential(ask.DelegatedPublicKey, ask.DelegatedScheme, sign);
        Assert.Null(_check.CredentialProblem(certificate, ask, good));
        Assert.Contains("does not verify", _check.CredentialProblem(certificate, ask, [.. good[..^1], (byte)(good[^1] ^ 1)]));
        Assert.Contains("does not verify", _check.CredentialProblem(certificate, ask, Credential(ask.DelegatedPublicKey, ask.DelegatedScheme, signByAnother)));
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Assert.Contains("another key", _check.CredentialProblem(certificate, ask, Credential(otherKey.ExportSubjectPublicKeyInfo(), ask.DelegatedScheme, sign)));
        Assert.Contains("other schemes", _check.CredentialProblem(certificate, ask, Credential(ask.DelegatedPublicKey, SignatureScheme.Ed25519, sign)));
        Assert.Contains("not a delegated credential", _check.CredentialProblem(certificate, ask, RandomNumberGenerator.GetBytes(40)));
    }

    [Fact]
    public void Each_answer_is_checked_as_what_its_request_asked_for()
    {
        var (certificate, sign) = Issue(SignatureScheme.EcdsaSecp256r1Sha256);
        var scheme = SignatureScheme.EcdsaSecp256r1Sha256;

        var certificateVerify = new SignCertificateVerifyRequest(AcmeContext, scheme, Content);
        Assert.Null(_check.Problem(certificate, "primary", certificateVerify, sign(Content)));
        var serverKeyExchange = new SignServerKeyExchangeRequest(AcmeContext, scheme, [.. Content, 1]);
        Assert.Null(_check.Problem(certificate, "primary", serverKeyExchange, sign([.. Content, 1])));
        Assert.NotNull(_check.Problem(certificate, "primary", serverKeyExchange, sign(Content))); // a signature over other content

        var masterSecret = new DeriveMasterSecretRequest(AcmeContext, new RsaKeyExchange(new byte[256], 0x0303, new byte[32], new byte[32], TlsPrfHash.Sha256));
        Assert.Null(_check.Problem(certificate, "primary", masterSecret, new byte[48]));
        Assert.Contains("47 bytes", _check.Problem(certificate, "primary", masterSecret, new byte[47]));

        // A possession proof binds the replica it was asked of: the same signature does not pass for another replica's.
        var challenge = RandomNumberGenerator.GetBytes(KeyPossession.ChallengeLength);
        var possession = new ProvePossessionRequest(AcmeContext, scheme, challenge);
        var proof = sign(KeyPossession.SignedContent(new KeyGrainKey(AcmeContext.Tenant, "primary", AcmeContext.KeyId), challenge));
        Assert.Null(_check.Problem(certificate, "primary", possession, proof));
        Assert.NotNull(_check.Problem(certificate, "backup", possession, proof));

        // An answer to a request the edge has no check for is never used.
        Assert.Contains("cannot check", _check.Problem(certificate, "primary", new UnservedKeyRequest(AcmeContext, Content), sign(Content)));
    }

    private static readonly KeyRequestContext AcmeContext = new("acme", new string('a', 64), "www.acme.test", "192.0.2.1", "edge");

    /// <summary>A certificate from the test CA for a fresh key fit for <paramref name="scheme"/>, and that key's signer.</summary>
    private (byte[] Certificate, Func<byte[], byte[]> Sign) Issue(SignatureScheme scheme)
    {
        (TestKey key, Func<byte[], byte[]> sign) made = scheme switch
        {
            SignatureScheme.EcdsaSecp256r1Sha256 or SignatureScheme.EcdsaSecp384r1Sha384 => Ecdsa(scheme),
            SignatureScheme.Ed25519 => Ed25519(),
            _ => Rsa(scheme),
        };
        using var certificate = _ca.Issue(made.key, "answers.acme.test");
        return (certificate.RawData, made.sign);
    }

    private static (TestKey, Func<byte[], byte[]>) Ecdsa(SignatureScheme scheme)
    {
        var p384 = scheme == SignatureScheme.EcdsaSecp384r1Sha384;
        var (key, ecdsa) = TestKeys.Ecdsa(p384 ? ECCurve.NamedCurves.nistP384 : ECCurve.NamedCurves.nistP256);
        return (key, content => ecdsa.SignData(content, p384 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
    }

    private static (TestKey, Func<byte[], byte[]>) Rsa(SignatureScheme scheme)
    {
        var (key, rsa) = TestKeys.Rsa(2048);
        var (hash, padding) = scheme switch
        {
            SignatureScheme.RsaPssRsaeSha256 => (HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
            SignatureScheme.RsaPssRsaeSha384 => (HashAlgorithmName.SHA384, RSASignaturePadding.Pss),
            SignatureScheme.RsaPkcs1Sha256 => (HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            SignatureScheme.RsaPkcs1Sha512 => (HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1),
            _ => throw new ArgumentOutOfRangeException(nameof(scheme)),
        };
        return (key, content => rsa.SignData(content, hash, padding));
    }

    private static (TestKey, Func<byte[], byte[]>) Ed25519()
    {
        var (key, _) = TestKeys.Ed25519();
        var privateKey = (Ed25519PrivateKeyParameters)PrivateKeyFactory.CreateKey(key.Pkcs8);
        return (key, content =>
        {
            var signer = new Ed25519Signer();
            signer.Init(true, privateKey);
            signer.BlockUpdate(content, 0, content.Length);
            return signer.GenerateSignature();
        });
    }

    private static byte[] CertificateVerifyContent() =>
        [.. Enumerable.Repeat((byte)0x20, 64), .. "TLS 1.3, server CertificateVerify"u8, 0, .. RandomNumberGenerator.GetBytes(32)];

    public void Dispose() => _ca.Dispose();
}
