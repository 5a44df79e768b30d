using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>
/// The audit log's line format and hash chain. One JSON object per line, properties in a fixed order, the last two
/// being the chain: <c>{"seq":1,"time":"…",…,"outcome":"Ok","prev":"&lt;hex&gt;","hash":"&lt;hex&gt;"}</c>.
/// The record's bytes are the line up to <c>,"prev"</c>, closed with <c>}</c>; <c>hash</c> = SHA-256(prev ‖ record
/// bytes) with prev as its 32 raw bytes: the previous line's hash, or <see cref="Genesis"/> on the first line.
/// Hashing the bytes as written, not a re-serialization, makes any byte edit visible and keeps old files verifiable
/// whatever JSON library (or version of it) reads them.
/// </summary>
public static class AuditChain
{
    public const int HashSize = 32;
    public const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    private static readonly byte[] PrevPrefix = ",\"prev\":\""u8.ToArray();
    private static readonly byte[] HashPrefix = "\",\"hash\":\""u8.ToArray();
    private static readonly byte[] LineEnd = "\"}"u8.ToArray();

    /// <summary>Bytes after the record's own properties: ,"prev":"…","hash":"…"}</summary>
    public static readonly int SuffixLength = PrevPrefix.Length + 2 * HashSize + HashPrefix.Length + 2 * HashSize + LineEnd.Length;

    /// <summary>The prev of a file's first record: a fixed value, so a file that lost its head does not verify.</summary>
    public static byte[] Genesis { get; } = SHA256.HashData("KeylessOrleans audit log v1"u8);

    /// <summary>The record's canonical bytes: compact JSON, fixed property order, non-ASCII escaped.</summary>
    public static void WriteRecord(AuditRecord record, IBufferWriter<byte> output)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteNumber("seq", record.Sequence);
        json.WriteString("time", record.Time.ToString(TimeFormat, CultureInfo.InvariantCulture));
        json.WriteString("tenant", record.Tenant);
        json.WriteString("replica", record.Replica);
        json.WriteString("edge", record.Edge);
        json.WriteString("key", record.KeyId);
        json.WriteString("op", record.Operation);
        json.WriteString("sni", record.ServerName);
        json.WriteString("client", record.ClientAddress);
        json.WriteString("request_sha256", record.RequestDigest);
        json.WriteString("outcome", record.Outcome);
        json.WriteEndObject();
    }

    /// <summary>Appends the line for <paramref name="recordBytes"/> (from <see cref="WriteRecord"/>) and returns its hash.</summary>
    public static byte[] WriteLine(ReadOnlySpan<byte> recordBytes, ReadOnlySpan<byte> prev, IBufferWriter<byte> output)
    {
        // One-shot hash over a copy: the writer does this for every record, and a copy of ~500 bytes is cheaper
        // than an incremental hash object.
        var hashed = ArrayPool<byte>.Shared.Rent(HashSize + recordBytes.Length);
        prev.CopyTo(hashed);
        recordBytes.CopyTo(hashed.AsSpan(HashSize));
        var hash = SHA256.HashData(hashed.AsSpan(0, HashSize + recordBytes.Length));
        ArrayPool<byte>.Shared.Return(hashed);
        var body = recordBytes[..^1]; // without its closing brace
        var span = output.GetSpan(body.Length + SuffixLength + 1);
        body.CopyTo(span);
        var at = body.Length;
        at += Put(span[at..], PrevPrefix);
        at += PutHex(span[at..], prev);
        at += Put(span[at..], HashPrefix);
        at += PutHex(span[at..], hash);
        at += Put(span[at..], LineEnd);
        span[at++] = (byte)'\n';
        output.Advance(at);
        return hash;
    }

    /// <summary>SHA-256(prev ‖ body ‖ '}'), body being the record's bytes without their closing brace.</summary>
    private static byte[] Hash(ReadOnlySpan<byte> prev, ReadOnlySpan<byte> body)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(prev);
        sha.AppendData(body);
        sha.AppendData("}"u8);
        return sha.GetHashAndReset();
    }

    /// <summary>
    /// Reads one line (without its newline): the record's sequence number, time, prev and hash, and whether the hash
    /// matches the bytes. Null and a reason when it is not an audit record at all.
    /// </summary>
    public static ParsedLine? Parse(ReadOnlySpan<byte> line, out string? problem)
    {
        problem = null;
        if (line.Length <= SuffixLength + 1 || line[0] != (byte)'{')
            return Fail(out problem, "not an audit record (too short or not a JSON object)");
        var suffix = line[^SuffixLength..];
        var prevHex = suffix.Slice(PrevPrefix.Length, 2 * HashSize);
        var hashHex = suffix.Slice(PrevPrefix.Length + 2 * HashSize + HashPrefix.Length, 2 * HashSize);
        if (!suffix.StartsWith(PrevPrefix) || !suffix[(PrevPrefix.Length + 2 * HashSize)..].StartsWith(HashPrefix) || !suffix.EndsWith(LineEnd)
            || !TryHex(prevHex, out var prev) || !TryHex(hashHex, out var hash))
            return Fail(out problem, "not an audit record (no \"prev\" and \"hash\" at its end)");

        var body = line[..^SuffixLength];
        var recordBytes = new byte[body.Length + 1];
        body.CopyTo(recordBytes);
        recordBytes[^1] = (byte)'}';
        long sequence;
        DateTime time;
        try
        {
            using var document = JsonDocument.Parse(recordBytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("seq", out var seq) || seq.ValueKind != JsonValueKind.Number || !seq.TryGetInt64(out sequence)
                || !root.TryGetProperty("time", out var t) || t.ValueKind != JsonValueKind.String
                || !DateTime.TryParseExact(t.GetString(), TimeFormat, CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out time))
                return Fail(out problem, "not an audit record (no valid \"seq\" or \"time\")");
        }
        catch (JsonException e)
        {
            return Fail(out problem, $"not valid JSON ({e.Message.Split('.')[0]})");
        }
        var intact = CryptographicOperations.FixedTimeEquals(hash, Hash(prev, body));
        return new ParsedLine(sequence, time, prev, hash, intact);
    }

    private static ParsedLine? Fail(out string? problem, string reason)
    {
        problem = reason;
        return null;
    }

    private static int Put(Span<byte> destination, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination);
        return bytes.Length;
    }

    private static int PutHex(Span<byte> destination, ReadOnlySpan<byte> bytes)
    {
        Convert.TryToHexStringLower(bytes, destination, out var written);
        return written;
    }

    /// <summary>Lowercase hex only: the writer never writes anything else, so anything else is an edit.</summary>
    private static bool TryHex(ReadOnlySpan<byte> hex, out byte[] bytes)
    {
        bytes = [];
        foreach (var c in hex)
            if (c is not (>= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f')) return false;
        bytes = Convert.FromHexString(Encoding.ASCII.GetString(hex));
        return true;
    }
}

/// <summary>What a line says about itself; <see cref="HashMatches"/> is false when its bytes are not what was hashed.</summary>
public sealed record ParsedLine(long Sequence, DateTime Time, byte[] Prev, byte[] Hash, bool HashMatches);
