using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.TestSupport.Fuzzing;

/// <summary>One ClientHello extension; <see cref="DeclaredLength"/> overrides its length prefix (to lie about it).</summary>
public sealed record TlsExtension(int Type, Action<TlsWriter> Body, int? DeclaredLength = null)
{
    public static TlsExtension Raw(int type, byte[] body, int? declaredLength = null) => new(type, w => w.Bytes(body), declaredLength);
}

/// <summary>
/// A structurally valid ClientHello as a browser sends it (SNI, supported_versions, supported_groups,
/// signature_algorithms, an x25519 key share), every part of it open to change before it is written.
/// </summary>
public sealed class ClientHelloBuilder
{
    public const int MaxRecordFragment = 16384;

    public static readonly int[] Tls13Suites = [0x1301, 0x1302, 0x1303];
    public static readonly int[] Tls12Suites = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009c, 0x009d];

    public byte RecordType { get; set; } = 22; // handshake
    public int RecordVersion { get; set; } = 0x0301; // what clients put in their first record
    public byte HandshakeType { get; set; } = 1; // client_hello
    public int LegacyVersion { get; set; } = 0x0303;
    public byte[] Random { get; set; } = new byte[32];
    public byte[] SessionId { get; set; } = [];
    public List<int> CipherSuites { get; } = [];
    public List<TlsExtension> Extensions { get; } = [];

    /// <summary>A TLS 1.3 ClientHello (also offering TLS 1.2) or a TLS 1.2-only one, for <paramref name="serverName"/>.</summary>
    /// <param name="hybrid">
    /// TLS 1.3 only: X25519MLKEM768 first in supported_groups and key_share, as current browsers send it (a ~1.5 KB hello).
    /// </param>
    public static ClientHelloBuilder Standard(Random random, string serverName, bool tls13 = true, bool hybrid = false)
    {
        var hello = new ClientHelloBuilder { Random = Bytes(random, 32), SessionId = tls13 ? Bytes(random, 32) : [] };
        if (tls13) hello.CipherSuites.AddRange(Tls13Suites);
        hello.CipherSuites.AddRange(Tls12Suites);
        hello.Extensions.Add(ServerName(serverName));
        hello.Extensions.Add(new(10, w => w.Vector("supported_groups list", 2, l =>
        {
            if (hybrid) l.U16(X25519MLKem768);
            l.U16(0x001d); l.U16(0x0017); l.U16(0x0018);
        })));
        hello.Extensions.Add(new(11, w => w.Vector("ec_point_formats list", 1, l => l.U8(0))));
        hello.Extensions.Add(new(13, w => w.Vector("signature_algorithms list", 2, l =>
        {
            foreach (var scheme in new[] { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807 }) l.U16(scheme);
        })));
        hello.Extensions.Add(new(23, _ => { })); // extended_master_secret
        hello.Extensions.Add(new(0xff01, w => w.Vector("renegotiation_info", 1, _ => { })));
        if (tls13)
        {
            hello.Extensions.Add(new(43, w => w.Vector("supported_versions list", 1, l => { l.U16(0x0304); l.U16(0x0303); })));
            hello.Extensions.Add(new(45, w => w.Vector("psk_key_exchange_modes list", 1, l => l.U8(1))));
            hello.Extensions.Add(hybrid
                ? KeyShare((X25519MLKem768, X25519MLKem768Share(random)), (0x001d, Bytes(random, 32)))
                : KeyShare((0x001d, Bytes(random, 32))));
        }
        return hello;
    }

    public const int X25519MLKem768 = 0x11ec;

    /// <summary>
    /// A well-formed X25519MLKEM768 client share (draft-ietf-tls-ecdhe-mlkem): an ML-KEM-768 encapsulation key
    /// (1,184 bytes) then an X25519 public key (32), derived from <paramref name="random"/> so inputs reproduce.
    /// </summary>
    public static byte[] X25519MLKem768Share(Random random)
    {
        var prng = SecureRandom.GetInstance("SHA256PRNG", autoSeed: false);
        prng.SetSeed(Bytes(random, 32));
        var generator = new MLKemKeyPairGenerator();
        generator.Init(new MLKemKeyGenerationParameters(prng, MLKemParameters.ml_kem_768));
        var encapsulationKey = ((MLKemPublicKeyParameters)generator.GenerateKeyPair().Public).GetEncoded();
        var x25519 = new X25519PrivateKeyParameters(prng).GeneratePublicKey().GetEncoded();
        return [.. encapsulationKey, .. x25519];
    }

    public static TlsExtension ServerName(string name) =>
        new(0, w => w.Vector("server_name list", 2, l =>
        {
            l.U8(0); // host_name
            l.Vector("host_name", 2, n => n.Bytes(System.Text.Encoding.ASCII.GetBytes(name)));
        }));

    public static TlsExtension KeyShare(params (int Group, byte[] Key)[] shares) =>
        new(51, w => w.Vector("key_share list", 2, l =>
        {
            foreach (var (group, key) in shares)
            {
                l.U16(group);
                l.Vector("key_exchange", 2, k => k.Bytes(key));
            }
        }));

    /// <summary>The handshake message alone: type, 24-bit length, body.</summary>
    public byte[] HandshakeMessage(LengthPatch? patch = null)
    {
        var writer = new TlsWriter(patch);
        WriteHandshake(writer);
        return writer.ToArray();
    }

    /// <summary>The ClientHello in one record (oversized if the message is over 16 KiB: use <see cref="Fragment"/> for that).</summary>
    public byte[] Record(LengthPatch? patch = null) => WriteRecord(new TlsWriter(patch)).ToArray();

    /// <summary>The length prefixes of <see cref="Record"/>, numbered as <see cref="LengthPatch"/> counts them.</summary>
    public IReadOnlyList<(string Name, int Width, int Length)> LengthFields() => WriteRecord(new TlsWriter()).Fields;

    /// <summary>Splits <paramref name="payload"/> into records of <paramref name="fragment"/> bytes (the last may be shorter).</summary>
    public static byte[] Fragment(byte type, int version, byte[] payload, Func<int> fragment)
    {
        var records = new List<byte>();
        for (var offset = 0; offset < payload.Length;)
        {
            var length = Math.Min(Math.Max(1, fragment()), payload.Length - offset);
            records.AddRange([type, (byte)(version >> 8), (byte)version, (byte)(length >> 8), (byte)length]);
            records.AddRange(payload.AsSpan(offset, length).ToArray());
            offset += length;
        }
        return [.. records];
    }

    private TlsWriter WriteRecord(TlsWriter writer)
    {
        writer.U8(RecordType);
        writer.U16(RecordVersion);
        writer.Vector("record", 2, WriteHandshake);
        return writer;
    }

    private void WriteHandshake(TlsWriter writer)
    {
        writer.U8(HandshakeType);
        writer.Vector("handshake", 3, body =>
        {
            body.U16(LegacyVersion);
            body.Bytes(Random);
            body.Vector("session_id", 1, v => v.Bytes(SessionId));
            body.Vector("cipher_suites", 2, v => { foreach (var suite in CipherSuites) v.U16(suite); });
            body.Vector("compression_methods", 1, v => v.U8(0));
            body.Vector("extensions", 2, block =>
            {
                foreach (var extension in Extensions)
                {
                    block.U16(extension.Type);
                    if (extension.DeclaredLength is { } declared)
                    {
                        var content = new TlsWriter();
                        extension.Body(content);
                        block.U16(declared);
                        block.Bytes(content.ToArray());
                    }
                    else
                    {
                        block.Vector($"extension {extension.Type}", 2, extension.Body);
                    }
                }
            });
        });
    }

    public static byte[] Bytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
