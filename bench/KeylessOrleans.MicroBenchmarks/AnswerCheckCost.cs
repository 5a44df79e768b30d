using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.MicroBenchmarks;

/// <summary>
/// What the edge adds to every keyless handshake by verifying the key server's signature (a TLS 1.3
/// CertificateVerify content) under the served certificate's public key, parsed once per chain, per key type.
/// </summary>
public class AnswerCheckCost
{
    private readonly AnswerCheck _check = new();
    private readonly byte[] _content = [.. Enumerable.Repeat((byte)0x20, 64), .. "TLS 1.3, server CertificateVerify"u8, 0, .. RandomNumberGenerator.GetBytes(32)];
    private TestCertificateAuthority _ca = null!;
    private (byte[] Certificate, byte[] Signature) _ecdsa, _rsaPss, _ed25519;

    [GlobalSetup]
    public void Setup()
    {
        _ca = new TestCertificateAuthority("bench CA");
        var (ecKey, ecdsa) = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256);
        _ecdsa = (Certificate(ecKey), ecdsa.SignData(_content, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        var (rsaKey, rsa) = TestKeys.Rsa(2048);
        _rsaPss = (Certificate(rsaKey), rsa.SignData(_content, HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
        var (edKey, _) = TestKeys.Ed25519();
        var signer = new Ed25519Signer();
        signer.Init(true, (Ed25519PrivateKeyParameters)PrivateKeyFactory.CreateKey(edKey.Pkcs8));
        signer.BlockUpdate(_content, 0, _content.Length);
        _ed25519 = (Certificate(edKey), signer.GenerateSignature());
        if (new[] { EcdsaP256(), RsaPss2048(), Ed25519() }.FirstOrDefault(p => p is not null) is { } problem) throw new InvalidOperationException(problem);
    }

    private byte[] Certificate(TestKey key)
    {
        using var certificate = _ca.Issue(key, "bench.test");
        return certificate.RawData;
    }

    [GlobalCleanup]
    public void Cleanup() => _ca.Dispose();

    [Benchmark(Baseline = true)]
    public string? EcdsaP256() => _check.SignatureProblem(_ecdsa.Certificate, SignatureScheme.EcdsaSecp256r1Sha256, _content, _ecdsa.Signature);

    [Benchmark]
    public string? RsaPss2048() => _check.SignatureProblem(_rsaPss.Certificate, SignatureScheme.RsaPssRsaeSha256, _content, _rsaPss.Signature);

    [Benchmark]
    public string? Ed25519() => _check.SignatureProblem(_ed25519.Certificate, SignatureScheme.Ed25519, _content, _ed25519.Signature);
}
