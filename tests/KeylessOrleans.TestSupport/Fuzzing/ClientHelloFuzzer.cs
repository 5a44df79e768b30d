namespace KeylessOrleans.TestSupport.Fuzzing;

/// <summary>How a fuzzing client ends its side after sending: half-close, keep quiet, or reset.</summary>
public enum FuzzEnding
{
    HalfClose,
    KeepOpen,
    Reset,
}

/// <summary>One malformed first flight: what to send, and how it was made (to report and reproduce it).</summary>
public sealed record FuzzInput(int Index, string Kind, byte[] Bytes, FuzzEnding Ending)
{
    public override string ToString() =>
        $"#{Index} {Kind} ({Bytes.Length} bytes, {Ending}): {Convert.ToHexString(Bytes.AsSpan(0, Math.Min(Bytes.Length, 48)))}…";
}

/// <summary>
/// Malformed TLS first flights built from a valid ClientHello: random bytes, truncations, wrong lengths at every
/// level, bogus extensions, bit flips, record-layer garbage, fragmented and oversized handshakes. Input
/// <c>i</c> of seed <c>s</c> is always the same bytes, so a failure is reproduced from the two numbers.
/// </summary>
public sealed class ClientHelloFuzzer(int seed, string serverName)
{
    public int Seed { get; } = seed;

    /// <summary>Share of inputs after which the client keeps the connection open (the edge's timeouts must end it).</summary>
    public double KeepOpenShare { get; init; } = 0.03;

    /// <summary>Share of inputs after which the client resets the connection.</summary>
    public double ResetShare { get; init; } = 0.03;

    public FuzzInput Create(int index)
    {
        var random = new Random(unchecked((int)((uint)Seed * 2654435761u ^ (uint)index * 40503u)));
        var roll = random.Next(100);
        var (kind, bytes) = roll switch
        {
            < 8 => ("random_bytes", RandomBytes(random)),
            < 16 => ("truncated", Truncated(random)),
            < 34 => LengthField(random),
            < 52 => BogusExtension(random),
            < 64 => ("bit_flips", BitFlips(random, Hello(random).Record())),
            < 72 => RecordGarbage(random),
            < 80 => ("fragmented", Fragmented(random)),
            < 86 => Oversized(random),
            < 88 => ("valid", Hello(random).Record()),
            _ => ("stacked", Stacked(random)),
        };
        var ending = random.NextDouble() switch
        {
            var p when p < KeepOpenShare => FuzzEnding.KeepOpen,
            var p when p < KeepOpenShare + ResetShare => FuzzEnding.Reset,
            _ => FuzzEnding.HalfClose,
        };
        return new FuzzInput(index, kind, bytes, ending);
    }

    /// <summary>A valid ClientHello, for a client that then sends it one byte at a time.</summary>
    public byte[] TricklePrefix(int index) => Hello(new Random(Seed ^ index)).Record();

    /// <summary>
    /// A third of the TLS 1.3 hellos carry an X25519MLKEM768 share as browsers send it: ~1.5 KB, so fragmenting and
    /// truncating them cuts through a post-quantum key share.
    /// </summary>
    private ClientHelloBuilder Hello(Random random)
    {
        var tls13 = random.Next(4) != 0;
        return ClientHelloBuilder.Standard(random, serverName, tls13, hybrid: tls13 && random.Next(3) == 0);
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = ClientHelloBuilder.Bytes(random, random.Next(1, 3000));
        if (random.Next(2) == 0 && bytes.Length >= 3) (bytes[0], bytes[1], bytes[2]) = (22, 3, (byte)random.Next(5)); // past the record type check
        return bytes;
    }

    private byte[] Truncated(Random random)
    {
        var hello = Hello(random).Record();
        return hello[..random.Next(1, hello.Length)];
    }

    /// <summary>One length prefix (record, handshake, session id, suites, extensions block, one extension, SNI list…) written wrong.</summary>
    private (string, byte[]) LengthField(Random random)
    {
        var hello = Hello(random);
        var fields = hello.LengthFields();
        var field = random.Next(fields.Count);
        var (name, width, length) = fields[field];
        var max = (1 << (8 * width)) - 1;
        var value = random.Next(6) switch
        {
            0 => 0,
            1 => length - 1,
            2 => length + 1,
            3 => length + random.Next(2, 200),
            4 => max,
            _ => random.Next(max + 1),
        };
        return ($"length_field:{name}", hello.Record(new LengthPatch(field, Math.Clamp(value, 0, max))));
    }

    private static readonly int[] KnownExtensions = [0, 5, 10, 11, 13, 16, 18, 21, 22, 23, 35, 41, 42, 43, 44, 45, 49, 50, 51, 57, 0xff01];

    /// <summary>Extensions that are unknown, duplicated, misplaced, lie about their length, or hold nonsense for their type.</summary>
    private (string, byte[]) BogusExtension(Random random)
    {
        var hello = Hello(random);
        int At() => random.Next(hello.Extensions.Count + 1); // after any removal
        string kind;
        switch (random.Next(9))
        {
            case 0:
                kind = "unknown_type";
                hello.Extensions.Insert(At(), TlsExtension.Raw(random.Next(0x10000), ClientHelloBuilder.Bytes(random, random.Next(300))));
                break;
            case 1:
                kind = "duplicate";
                hello.Extensions.Insert(At(), hello.Extensions[random.Next(hello.Extensions.Count)]);
                break;
            case 2:
                kind = "known_type_random_body";
                hello.Extensions.Insert(At(), TlsExtension.Raw(KnownExtensions[random.Next(KnownExtensions.Length)], ClientHelloBuilder.Bytes(random, random.Next(64))));
                break;
            case 3:
                kind = "huge_declared_length";
                hello.Extensions.Insert(At(), TlsExtension.Raw(random.Next(0x10000), ClientHelloBuilder.Bytes(random, random.Next(16)), 0xffff - random.Next(16)));
                break;
            case 4:
                kind = "many_extensions";
                for (var i = random.Next(100, 1500); i > 0; i--) hello.Extensions.Insert(random.Next(hello.Extensions.Count + 1), TlsExtension.Raw(random.Next(0x10000), []));
                break;
            case 5:
                kind = "bogus_sni";
                hello.Extensions.RemoveAll(e => e.Type == 0);
                hello.Extensions.Insert(At(), BogusServerName(random));
                break;
            case 6:
                kind = "bogus_key_share";
                hello.Extensions.RemoveAll(e => e.Type == 51);
                hello.Extensions.Insert(At(), BogusKeyShare(random));
                break;
            case 7:
                kind = "bogus_versions";
                hello.Extensions.RemoveAll(e => e.Type == 43);
                var versions = Enumerable.Range(0, random.Next(0, 6)).Select(_ => random.Next(4) == 0 ? random.Next(0x10000) : 0x0300 + random.Next(6)).ToArray();
                hello.Extensions.Insert(At(), new(43, w => w.Vector("supported_versions list", 1, l => { foreach (var v in versions) l.U16(v); })));
                break;
            default:
                kind = "pre_shared_key_not_last";
                hello.Extensions.Insert(random.Next(hello.Extensions.Count), TlsExtension.Raw(41, ClientHelloBuilder.Bytes(random, random.Next(80))));
                break;
        }
        return ($"bogus_extension:{kind}", hello.Record());
    }

    private TlsExtension BogusServerName(Random random)
    {
        var names = random.Next(6) switch
        {
            0 => [[]],
            1 => [ClientHelloBuilder.Bytes(random, random.Next(1, 300))], // any byte, NUL and non-ASCII included
            2 => [System.Text.Encoding.ASCII.GetBytes(new string('a', random.Next(254, 2000)) + ".acme.test")],
            3 => [System.Text.Encoding.ASCII.GetBytes(serverName), System.Text.Encoding.ASCII.GetBytes("other.test")],
            4 => [System.Text.Encoding.ASCII.GetBytes(random.Next(2) == 0 ? "..." : "xn--" + serverName + ".")],
            _ => new[] { System.Text.Encoding.ASCII.GetBytes(serverName.ToUpperInvariant() + "\0evil.test") },
        };
        var nameType = random.Next(5) == 0 ? random.Next(1, 256) : 0;
        return new(0, w => w.Vector("server_name list", 2, l =>
        {
            foreach (var name in names)
            {
                l.U8(nameType);
                l.Vector("host_name", 2, n => n.Bytes(name));
            }
        }));
    }

    private static TlsExtension BogusKeyShare(Random random) => random.Next(6) switch
    {
        5 => ClientHelloBuilder.KeyShare((ClientHelloBuilder.X25519MLKem768, ClientHelloBuilder.Bytes(random, 1216 + random.Next(-40, 41)))), // hybrid, around its size
        0 => ClientHelloBuilder.KeyShare((0x001d, ClientHelloBuilder.Bytes(random, random.Next(0, 64)))), // wrong size
        1 => ClientHelloBuilder.KeyShare((0x001d, new byte[32])), // the all-zero (low-order) point
        2 => ClientHelloBuilder.KeyShare((0x0017, ClientHelloBuilder.Bytes(random, 65))), // P-256 point that is not on the curve
        3 => ClientHelloBuilder.KeyShare((0x001d, ClientHelloBuilder.Bytes(random, 32)), (0x001d, ClientHelloBuilder.Bytes(random, 32))), // duplicate group
        _ => ClientHelloBuilder.KeyShare((random.Next(0x10000), ClientHelloBuilder.Bytes(random, random.Next(0, 1300)))), // unknown group, PQ-sized
    };

    private static byte[] BitFlips(Random random, byte[] bytes)
    {
        for (var i = random.Next(1, 9); i > 0; i--) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
        return bytes;
    }

    /// <summary>Wrong record types and versions, SSLv2, and records a client must not send before its hello.</summary>
    private (string, byte[]) RecordGarbage(Random random)
    {
        var hello = Hello(random);
        switch (random.Next(7))
        {
            case 0:
                hello.RecordType = (byte)random.Next(256);
                return ("record:type", hello.Record());
            case 1:
                hello.RecordVersion = random.Next(0x10000);
                return ("record:version", hello.Record());
            case 2:
                return ("record:sslv2_hello", [0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, .. ClientHelloBuilder.Bytes(random, 37)]);
            case 3:
                return ("record:empty_records", [.. Repeat(random.Next(10, 2000), [22, 3, 3, 0, 0]), .. hello.Record()]);
            case 4:
                return ("record:alerts_first", [.. Repeat(random.Next(1, 500), [21, 3, 3, 0, 2, (byte)random.Next(1, 3), (byte)random.Next(256)]), .. hello.Record()]);
            case 5:
                return ("record:ccs_first", [20, 3, 3, 0, 1, 1, .. hello.Record()]);
            default:
                byte type = random.Next(2) == 0 ? (byte)23 : (byte)24; // application data, heartbeat
                return ("record:early_data_or_heartbeat", [type, 3, 3, 0, 16, .. ClientHelloBuilder.Bytes(random, 16), .. hello.Record()]);
        }
    }

    /// <summary>The handshake spread over many tiny records (sometimes one byte each), now and then with a flipped bit.</summary>
    private byte[] Fragmented(Random random)
    {
        var message = Hello(random).HandshakeMessage();
        if (random.Next(3) == 0) BitFlips(random, message);
        var size = random.Next(1, 17);
        return ClientHelloBuilder.Fragment(22, 0x0303, message, () => random.Next(1, size + 1));
    }

    /// <summary>Records and handshake messages past the limits: must be refused at the header, not buffered.</summary>
    private (string, byte[]) Oversized(Random random)
    {
        switch (random.Next(3))
        {
            case 0:
                var length = random.Next(16384 + 256 + 1, 0x10000);
                return ("oversized:record", [22, 3, 3, (byte)(length >> 8), (byte)length, .. ClientHelloBuilder.Bytes(random, random.Next(0, 20_000))]);
            case 1:
                var declared = random.Next(16 * 1024 + 1, 0x1000000);
                byte[] message = [1, (byte)(declared >> 16), (byte)(declared >> 8), (byte)declared, .. ClientHelloBuilder.Bytes(random, 3 * ClientHelloBuilder.MaxRecordFragment)];
                return ("oversized:handshake_message", ClientHelloBuilder.Fragment(22, 0x0303, message, () => ClientHelloBuilder.MaxRecordFragment));
            default:
                var hello = Hello(random);
                hello.Extensions.Add(TlsExtension.Raw(21, new byte[random.Next(17_000, 40_000)])); // padding
                return ("oversized:padded_hello", ClientHelloBuilder.Fragment(22, 0x0303, hello.HandshakeMessage(), () => ClientHelloBuilder.MaxRecordFragment));
        }
    }

    /// <summary>Several byte-level edits of a valid hello: flips, insertions, deletions, repeats, a cut.</summary>
    private byte[] Stacked(Random random)
    {
        var bytes = new List<byte>(Hello(random).Record());
        for (var i = random.Next(2, 5); i > 0 && bytes.Count > 1; i--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes.InsertRange(at, ClientHelloBuilder.Bytes(random, random.Next(1, 32))); break;
                case 2: bytes.RemoveRange(at, Math.Min(random.Next(1, 32), bytes.Count - at)); break;
                case 3: bytes.InsertRange(at, bytes.GetRange(at, Math.Min(random.Next(1, 64), bytes.Count - at))); break;
                default: bytes.RemoveRange(at, bytes.Count - at); break;
            }
        }
        return [.. bytes];
    }

    private static IEnumerable<byte> Repeat(int times, byte[] bytes) => Enumerable.Repeat(bytes, times).SelectMany(b => b);
}
