using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Org.BouncyCastle.Crypto.Agreement;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.EC;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.MicroBenchmarks;

/// <summary>
/// The primitives a TLS handshake and record layer spend on, in BouncyCastle's managed code (what the edge's
/// BcTlsCrypto uses) against .NET's OpenSSL-backed implementation (what a TlsCrypto built on .NET would use).
/// Decides whether replacing BouncyCastle's crypto provider is worth it: see bench/README.md.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class TlsPrimitives
{
    private readonly SecureRandom _random = new();
    private readonly byte[] _record = RandomNumberGenerator.GetBytes(16 * 1024);
    private readonly byte[] _sealed = new byte[16 * 1024 + 16];
    private readonly byte[] _tag = new byte[16];
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _nonce = RandomNumberGenerator.GetBytes(12);
    private readonly byte[] _transcript = RandomNumberGenerator.GetBytes(1024);
    private readonly byte[] _digest = new byte[32];
    private AesGcm _aesGcm = null!;
    private ECDiffieHellman _dotnetPeer = null!;
    private ECPublicKeyParameters _bcPeer = null!;
    private X25519PublicKeyParameters _x25519Peer = null!;
    private ECDomainParameters _p256 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _aesGcm = new AesGcm(_key, 16);
        _dotnetPeer = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        // The curve BouncyCastle's TLS stack uses: its specialised P-256 arithmetic, not the generic X9 curve.
        var curve = CustomNamedCurves.GetByName("P-256");
        _p256 = new ECDomainParameters(curve);
        var q = _dotnetPeer.ExportParameters(false).Q;
        _bcPeer = new ECPublicKeyParameters(curve.Curve.CreatePoint(new Org.BouncyCastle.Math.BigInteger(1, q.X), new Org.BouncyCastle.Math.BigInteger(1, q.Y)), _p256);
        _x25519Peer = new X25519PrivateKeyParameters(_random).GeneratePublicKey();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _aesGcm.Dispose();
        _dotnetPeer.Dispose();
    }

    // One server key share: generate a key pair and agree with the client's share.
    [Benchmark(Baseline = true), BenchmarkCategory("ECDHE P-256")]
    public byte[] EcdhP256BouncyCastle()
    {
        var generator = new ECKeyPairGenerator();
        generator.Init(new ECKeyGenerationParameters(_p256, _random));
        var pair = generator.GenerateKeyPair();
        var agreement = new ECDHBasicAgreement();
        agreement.Init(pair.Private);
        return agreement.CalculateAgreement(_bcPeer).ToByteArrayUnsigned();
    }

    [Benchmark, BenchmarkCategory("ECDHE P-256")]
    public byte[] EcdhP256DotNet()
    {
        using var own = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return own.DeriveRawSecretAgreement(_dotnetPeer.PublicKey);
    }

    // .NET has no X25519: BouncyCastle's is the only one to hand.
    [Benchmark(Baseline = true), BenchmarkCategory("ECDHE X25519")]
    public byte[] X25519BouncyCastle()
    {
        var own = new X25519PrivateKeyParameters(_random);
        _ = own.GeneratePublicKey();
        var secret = new byte[32];
        own.GenerateSecret(_x25519Peer, secret, 0);
        return secret;
    }

    // One full TLS record sealed with AES-128-GCM.
    [Benchmark(Baseline = true), BenchmarkCategory("AES-128-GCM 16 KiB")]
    public int AesGcmBouncyCastle()
    {
        var gcm = new GcmBlockCipher(new AesEngine());
        gcm.Init(true, new AeadParameters(new KeyParameter(_key), 128, _nonce));
        var written = gcm.ProcessBytes(_record, 0, _record.Length, _sealed, 0);
        return written + gcm.DoFinal(_sealed, written);
    }

    [Benchmark, BenchmarkCategory("AES-128-GCM 16 KiB")]
    public int AesGcmDotNet()
    {
        _aesGcm.Encrypt(_nonce, _record, _sealed.AsSpan(0, _record.Length), _tag);
        return _record.Length;
    }

    // Transcript hashing: a 1 KiB handshake message.
    [Benchmark(Baseline = true), BenchmarkCategory("SHA-256 1 KiB")]
    public byte[] Sha256BouncyCastle()
    {
        var digest = new Sha256Digest();
        digest.BlockUpdate(_transcript, 0, _transcript.Length);
        digest.DoFinal(_digest, 0);
        return _digest;
    }

    [Benchmark, BenchmarkCategory("SHA-256 1 KiB")]
    public byte[] Sha256DotNet()
    {
        SHA256.HashData(_transcript, _digest);
        return _digest;
    }
}
