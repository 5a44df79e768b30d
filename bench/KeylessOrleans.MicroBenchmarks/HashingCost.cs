using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace KeylessOrleans.MicroBenchmarks;

/// <summary>
/// The hashing of one full TLS 1.3 handshake on the server, as BouncyCastle's stack does it through its TlsCrypto:
/// a transcript of ~4 KB (ClientHello, ServerHello, certificate chain, ...) read at the 6 points where the key schedule
/// or a signature needs it, and the key schedule's HKDF (3 extracts, 13 expand-labels: handshake and application
/// traffic secrets, their keys and IVs, both Finished keys, the resumption secret). BouncyCastle's own SHA-256 against
/// the edge's (EdgeTlsCrypto: OneShotSha2Digest, .NET's SHA-256).
/// </summary>
[MemoryDiagnoser]
public class HashingCost
{
    private readonly BcTlsCrypto _bouncyCastle = new(new SecureRandom());
    private readonly BcTlsCrypto _edge = new KeylessOrleans.Edge.Tls.Crypto.EdgeTlsCrypto(new SecureRandom());
    private readonly byte[][] _messages = [.. new[] { 512, 128, 32, 2900, 80, 36, 36 }.Select(RandomNumberGenerator.GetBytes)];
    private readonly byte[] _sharedSecret = RandomNumberGenerator.GetBytes(32);

    [Benchmark(Baseline = true)]
    public byte[] BouncyCastle() => Handshake(_bouncyCastle);

    [Benchmark]
    public byte[] Edge() => Handshake(_edge);

    private byte[] Handshake(BcTlsCrypto crypto)
    {
        var transcript = crypto.CreateHash(CryptoHashAlgorithm.sha256);
        var snapshots = new List<byte[]>();
        foreach (var message in _messages)
        {
            transcript.Update(message, 0, message.Length);
            snapshots.Add(transcript.CloneHash().CalculateHash());
        }
        // The salt of an extract is used up by it: each stage derives what it needs, then the next salt from it.
        var early = crypto.HkdfInit(CryptoHashAlgorithm.sha256);
        var handshake = early.HkdfExtract(CryptoHashAlgorithm.sha256, crypto.CreateSecret(_sharedSecret));
        byte[] last = [];
        for (var i = 0; i < 6; i++) last = Derive(handshake, snapshots[i]);
        var master = Derived(handshake, snapshots[0]).HkdfExtract(CryptoHashAlgorithm.sha256, crypto.HkdfInit(CryptoHashAlgorithm.sha256));
        for (var i = 0; i < 7; i++) last = Derive(master, snapshots[i % snapshots.Count]);
        return last;
    }

    private static TlsSecret Derived(TlsSecret secret, byte[] hash) =>
        secret.DeriveUsingPrf(Org.BouncyCastle.Tls.PrfAlgorithm.tls13_hkdf_sha256, "derived", hash, 32);

    private static byte[] Derive(TlsSecret secret, byte[] hash) => Derived(secret, hash).Extract();
}
