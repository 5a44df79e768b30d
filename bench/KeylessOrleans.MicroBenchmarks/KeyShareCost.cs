using BenchmarkDotNet.Attributes;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace KeylessOrleans.MicroBenchmarks;

/// <summary>
/// What the edge spends on its side of one TLS 1.3 key agreement, per group it offers (Keyless:Edge:Tls:Tls13Groups):
/// take the client's share, make its own (for ML-KEM: encapsulate), derive the shared secret. Built from the same
/// BcTlsCrypto objects BouncyCastle's TlsServerProtocol uses, client shares made once in setup. The rest of a
/// handshake (transcript, key schedule, records, the key server's signature) is the same whatever the group.
/// Bytes on the wire: client share / server share, X25519 32 / 32, X25519MLKEM768 1,216 / 1,120,
/// SecP256r1MLKEM768 1,249 / 1,153. The edge's own crypto (EdgeTlsCrypto) does X25519 with OpenSSL: the "edge" rows.
/// </summary>
public class KeyShareCost
{
    private readonly BcTlsCrypto _crypto = new(new SecureRandom());
    private readonly BcTlsCrypto _edge = new KeylessOrleans.Edge.Tls.Crypto.EdgeTlsCrypto(new SecureRandom());
    private byte[] _x25519Share = null!;
    private byte[] _p256Share = null!;
    private byte[] _x25519MLKem768Share = null!;
    private byte[] _p256MLKem768Share = null!;

    [GlobalSetup]
    public void Setup()
    {
        _x25519Share = ClientShare(NamedGroup.x25519);
        _p256Share = ClientShare(NamedGroup.secp256r1);
        var mlkem = ClientShare(NamedGroup.MLKEM768);
        _x25519MLKem768Share = [.. mlkem, .. _x25519Share];
        _p256MLKem768Share = [.. _p256Share, .. mlkem];
    }

    [Benchmark(Baseline = true)]
    public byte[] X25519() => Server(Simple(NamedGroup.x25519), _x25519Share);

    [Benchmark]
    public byte[] X25519Edge() => Server(_edge.CreateECDomain(new TlsECConfig(NamedGroup.x25519)).CreateECDH(), _x25519Share);

    [Benchmark]
    public byte[] X25519MLKEM768Edge() =>
        Server(new TlsHybridAgreement(_edge, Simple(NamedGroup.MLKEM768), _edge.CreateECDomain(new TlsECConfig(NamedGroup.x25519)).CreateECDH(), 1184), _x25519MLKem768Share);

    [Benchmark]
    public byte[] Secp256r1() => Server(Simple(NamedGroup.secp256r1), _p256Share);

    [Benchmark]
    public byte[] X25519MLKEM768() =>
        Server(new TlsHybridAgreement(_crypto, Simple(NamedGroup.MLKEM768), Simple(NamedGroup.x25519), 1184), _x25519MLKem768Share);

    [Benchmark]
    public byte[] SecP256r1MLKEM768() =>
        Server(new TlsHybridAgreement(_crypto, Simple(NamedGroup.secp256r1), Simple(NamedGroup.MLKEM768), 65), _p256MLKem768Share);

    private static byte[] Server(TlsAgreement agreement, byte[] clientShare)
    {
        agreement.ReceivePeerValue(clientShare);
        var serverShare = agreement.GenerateEphemeral();
        agreement.CalculateSecret().Extract();
        return serverShare;
    }

    private TlsAgreement Simple(int group, bool server = true) => NamedGroup.RefersToASpecificKem(group)
        ? _crypto.CreateKemDomain(new TlsKemConfig(group, server)).CreateKem()
        : _crypto.CreateECDomain(new TlsECConfig(group)).CreateECDH();

    private byte[] ClientShare(int group) => Simple(group, server: false).GenerateEphemeral();
}
