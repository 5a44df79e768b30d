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
/// <para>
/// Three kinds of line share the chain (<c>op</c> tells them apart): key operations and events (policy changes), a
/// <c>chain_start</c> first line naming the chain it replaces, and <c>checkpoint</c> lines whose <c>hmac</c> —
/// HMAC-SHA256 under the key server's audit key (<see cref="CheckpointMac"/>) — authenticates <c>covers</c> (the
/// sequence number of the line before it) and <c>head</c> (that line's hash), and with it everything before.
/// Without the key anyone can rebuild a consistent unkeyed chain; nobody can forge a checkpoint.
/// </para>
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
        if (record.Detail is not null) json.WriteString("detail", record.Detail);
        json.WriteEndObject();
    }

    public const string CheckpointOperation = "checkpoint";
    public const string ChainStartOperation = "chain_start";

    /// <summary>A checkpoint's canonical bytes: it authenticates record <paramref name="covers"/> and its hash <paramref name="head"/>.</summary>
    public static void WriteCheckpoint(long sequence, DateTime time, string tenant, string replica, long covers, ReadOnlySpan<byte> head,
        ReadOnlySpan<byte> hmac, IBufferWriter<byte> output)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteNumber("seq", sequence);
        json.WriteString("time", time.ToString(TimeFormat, CultureInfo.InvariantCulture));
        json.WriteString("op", CheckpointOperation);
        json.WriteString("tenant", tenant);
        json.WriteString("replica", replica);
        json.WriteNumber("covers", covers);
        json.WriteString("head", Convert.ToHexStringLower(head));
        json.WriteString("hmac", Convert.ToHexStringLower(hmac));
        json.WriteEndObject();
    }

    /// <summary>
    /// The first line of a chain: which chain it replaces (<paramref name="previous"/>, the last sequence number and
    /// head the key server knew of, or null for the first chain of this log) and why.
    /// </summary>
    public static void WriteChainStart(DateTime time, string tenant, string replica, AuditAnchor? previous, string reason, IBufferWriter<byte> output)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteNumber("seq", 1);
        json.WriteString("time", time.ToString(TimeFormat, CultureInfo.InvariantCulture));
        json.WriteString("op", ChainStartOperation);
        json.WriteString("tenant", tenant);
        json.WriteString("replica", replica);
        if (previous is null)
        {
            json.WriteNull("previous_seq");
            json.WriteNull("previous_head");
        }
        else
        {
            json.WriteNumber("previous_seq", previous.Sequence);
            json.WriteString("previous_head", previous.HeadHex);
        }
        json.WriteString("reason", reason);
        json.WriteEndObject();
    }

    private static ReadOnlySpan<byte> MacLabel => "KeylessOrleans audit checkpoint v1\n"u8;

    /// <summary>HMAC-SHA256(key, "KeylessOrleans audit checkpoint v1\n" ‖ covers as decimal ‖ "\n" ‖ head as lowercase hex).</summary>
    public static byte[] CheckpointMac(ReadOnlySpan<byte> key, long covers, ReadOnlySpan<byte> head)
    {
        var message = new byte[MacLabel.Length + 20 + 1 + 2 * HashSize];
        MacLabel.CopyTo(message);
        var at = MacLabel.Length;
        covers.TryFormat(message.AsSpan(at), out var written, provider: CultureInfo.InvariantCulture);
        at += written;
        message[at++] = (byte)'\n';
        Convert.TryToHexStringLower(head, message.AsSpan(at), out written);
        at += written;
        return HMACSHA256.HashData(key, message.AsSpan(0, at));
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
        string? operation;
        CheckpointLine? checkpoint = null;
        AuditAnchor? replaces = null;
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
            operation = root.TryGetProperty("op", out var op) && op.ValueKind == JsonValueKind.String ? op.GetString() : null;
            if (operation == CheckpointOperation)
            {
                if (!root.TryGetProperty("covers", out var covers) || !covers.TryGetInt64(out var coversValue)
                    || !TryHexProperty(root, "head", out var head) || !TryHexProperty(root, "hmac", out var hmac))
                    return Fail(out problem, "checkpoint without valid \"covers\", \"head\" and \"hmac\"");
                checkpoint = new CheckpointLine(coversValue, head, hmac);
            }
            else if (operation == ChainStartOperation
                && root.TryGetProperty("previous_seq", out var previousSeq) && previousSeq.ValueKind == JsonValueKind.Number
                && previousSeq.TryGetInt64(out var previousSequence) && TryHexProperty(root, "previous_head", out var previousHead))
            {
                replaces = new AuditAnchor(previousSequence, previousHead);
            }
        }
        catch (JsonException e)
        {
            return Fail(out problem, $"not valid JSON ({e.Message.Split('.')[0]})");
        }
        var intact = CryptographicOperations.FixedTimeEquals(hash, Hash(prev, body));
        return new ParsedLine(sequence, time, prev, hash, intact) { Operation = operation, Checkpoint = checkpoint, Replaces = replaces };
    }

    private static bool TryHexProperty(JsonElement root, string name, out byte[] bytes)
    {
        bytes = [];
        return root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            && value.GetString() is { Length: 2 * HashSize } hex && TryHex(Encoding.ASCII.GetBytes(hex), out bytes);
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
public sealed record ParsedLine(long Sequence, DateTime Time, byte[] Prev, byte[] Hash, bool HashMatches)
{
    public string? Operation { get; init; }

    /// <summary>Set on a checkpoint line.</summary>
    public CheckpointLine? Checkpoint { get; init; }

    /// <summary>Set on a chain_start line that names the chain it replaces.</summary>
    public AuditAnchor? Replaces { get; init; }
}

/// <summary>A checkpoint's claim: record <see cref="Covers"/> has hash <see cref="Head"/>, authenticated by <see cref="Hmac"/>.</summary>
public sealed record CheckpointLine(long Covers, byte[] Head, byte[] Hmac);

/// <summary>
/// A chain head known from elsewhere (a shipped heads line, the key server's state file, an operator's note): record
/// <see cref="Sequence"/> of the chain has hash <see cref="Head"/>. Written and parsed as <c>SEQ:HEADHEX</c>.
/// </summary>
public sealed record AuditAnchor(long Sequence, byte[] Head)
{
    public string HeadHex => Convert.ToHexStringLower(Head);

    public override string ToString() => $"{Sequence}:{HeadHex}";

    /// <summary>Equal when they name the same record with the same hash (the bytes, not the array).</summary>
    public bool Equals(AuditAnchor? other) => other is not null && Sequence == other.Sequence && Head.AsSpan().SequenceEqual(other.Head);

    public override int GetHashCode() => HashCode.Combine(Sequence, BitConverter.ToInt32(Head, 0));

    public static bool TryParse(string? text, out AuditAnchor anchor)
    {
        anchor = null!;
        var parts = text?.Trim().Split(':');
        if (parts is not { Length: 2 } || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) || sequence < 1
            || parts[1].Length != 2 * AuditChain.HashSize || !parts[1].All(char.IsAsciiHexDigit))
            return false;
        anchor = new AuditAnchor(sequence, Convert.FromHexString(parts[1]));
        return true;
    }
}
