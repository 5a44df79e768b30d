using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>
/// The audit log's line format and hash chain. One JSON object per line, properties in a fixed order, the last two
/// being the chain. Two formats, told apart by a line's end, so a file may hold both (a log continued across an
/// upgrade) and old files stay verifiable:
/// <list type="bullet">
/// <item>v1: long names and hex digests: <c>{"seq":1,"time":"…",…,"outcome":"Ok","prev":"&lt;64 hex&gt;","hash":"&lt;64 hex&gt;"}</c>.</item>
/// <item>v2 (written now): short names, digests in unpadded base64url (43 characters for 32 bytes), no replica on
/// operation records (the chain's own lines name it): <c>{"n":1,"t":"…",…,"r":"Ok","p":"&lt;b64&gt;","h":"&lt;b64&gt;"}</c>.</item>
/// </list>
/// The record's bytes are the line up to <c>,"prev"</c> (v1) or <c>,"p"</c> (v2), closed with <c>}</c>; the hash =
/// SHA-256(prev ‖ record bytes) with prev as its 32 raw bytes: the previous line's hash, or <see cref="Genesis"/> on a
/// chain's first line. Hashing the bytes as written, not a re-serialization, makes any byte edit visible and keeps old
/// files verifiable whatever JSON library (or version of it) reads them.
/// <para>
/// Four kinds of line share the chain (<c>op</c> tells them apart): key operations and events (policy changes), a
/// <c>chain_start</c> first line naming the chain it replaces, a <c>continues</c> first line of a rotated-to file
/// naming the previous file's last record and hash (its prev is that hash, so the chain runs on across files), and
/// <c>checkpoint</c> lines whose <c>hmac</c> — HMAC-SHA256 under the key server's audit key (<see cref="CheckpointMac"/>)
/// — authenticates <c>covers</c> (the sequence number of the line before it) and <c>head</c> (that line's hash), and
/// with it everything before. Without the key anyone can rebuild a consistent unkeyed chain; nobody can forge a checkpoint.
/// </para>
/// </summary>
internal static class AuditChain
{
    public const int HashSize = 32;
    public const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    /// <summary>Unpadded base64url of 32 bytes.</summary>
    private const int Base64Size = 43;

    private sealed record Suffix(int Format, byte[] PrevPrefix, byte[] HashPrefix, int DigestLength)
    {
        public byte[] LineEnd { get; } = "\"}"u8.ToArray();
        public int Length => PrevPrefix.Length + DigestLength + HashPrefix.Length + DigestLength + LineEnd.Length;
    }

    private static readonly Suffix V1 = new(1, ",\"prev\":\""u8.ToArray(), "\",\"hash\":\""u8.ToArray(), 2 * HashSize);
    private static readonly Suffix V2 = new(2, ",\"p\":\""u8.ToArray(), "\",\"h\":\""u8.ToArray(), Base64Size);

    /// <summary>The format this build writes.</summary>
    public const int CurrentFormat = 2;

    /// <summary>The prev of a chain's first record: a fixed value, so a file that lost its head does not verify.</summary>
    public static byte[] Genesis { get; } = SHA256.HashData("KeylessOrleans audit log v1"u8);

    /// <summary>A digest as a line of this format writes it: lowercase hex (v1) or unpadded base64url (v2).</summary>
    public static string Digest(ReadOnlySpan<byte> digest, int format = CurrentFormat) =>
        format == 1 ? Convert.ToHexStringLower(digest) : Base64Url.EncodeToString(digest);

    private static string Name(int format, string v1, string v2) => format == 1 ? v1 : v2;

    /// <summary>The record's canonical bytes: compact JSON, fixed property order, non-ASCII escaped.</summary>
    public static void WriteRecord(AuditRecord record, IBufferWriter<byte> output, int format = CurrentFormat)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteNumber(Name(format, "seq", "n"), record.Sequence);
        json.WriteString(Name(format, "time", "t"), record.Time.ToString(TimeFormat, CultureInfo.InvariantCulture));
        json.WriteString(Name(format, "tenant", "tn"), record.Tenant);
        if (format == 1) json.WriteString("replica", record.Replica);
        json.WriteString(Name(format, "edge", "e"), record.Edge);
        json.WriteString(Name(format, "key", "k"), record.KeyId);
        json.WriteString("op", record.Operation);
        json.WriteString("sni", record.ServerName);
        json.WriteString(Name(format, "client", "c"), record.ClientAddress);
        json.WriteString(Name(format, "request_sha256", "in"), Digest(record.RequestDigest, format));
        json.WriteString(Name(format, "outcome", "r"), record.Outcome);
        if (record.Detail is not null) json.WriteString(Name(format, "detail", "d"), record.Detail);
        json.WriteEndObject();
    }

    public const string CheckpointOperation = "checkpoint";
    public const string ChainStartOperation = "chain_start";
    public const string ContinuesOperation = "continues";

    private static void WriteStart(Utf8JsonWriter json, long sequence, DateTime time, string operation, string tenant, string replica, int format)
    {
        json.WriteStartObject();
        json.WriteNumber(Name(format, "seq", "n"), sequence);
        json.WriteString(Name(format, "time", "t"), time.ToString(TimeFormat, CultureInfo.InvariantCulture));
        json.WriteString("op", operation);
        json.WriteString("tenant", tenant);
        json.WriteString("replica", replica);
    }

    /// <summary>A checkpoint's canonical bytes: it authenticates record <paramref name="covers"/> and its hash <paramref name="head"/>.</summary>
    public static void WriteCheckpoint(long sequence, DateTime time, string tenant, string replica, long covers, ReadOnlySpan<byte> head,
        ReadOnlySpan<byte> hmac, IBufferWriter<byte> output, int format = CurrentFormat)
    {
        using var json = new Utf8JsonWriter(output);
        WriteStart(json, sequence, time, CheckpointOperation, tenant, replica, format);
        json.WriteNumber("covers", covers);
        json.WriteString("head", Digest(head, format));
        json.WriteString("hmac", Digest(hmac, format));
        json.WriteEndObject();
    }

    /// <summary>
    /// The first line of a chain: which chain it replaces (<paramref name="previous"/>, the last sequence number and
    /// head the key server knew of, or null for the first chain of this log) and why.
    /// </summary>
    public static void WriteChainStart(DateTime time, string tenant, string replica, AuditAnchor? previous, string reason, IBufferWriter<byte> output,
        int format = CurrentFormat)
    {
        using var json = new Utf8JsonWriter(output);
        WriteStart(json, 1, time, ChainStartOperation, tenant, replica, format);
        if (format != 1) json.WriteNumber("format", format);
        if (previous is null)
        {
            json.WriteNull("previous_seq");
            json.WriteNull("previous_head");
        }
        else
        {
            json.WriteNumber("previous_seq", previous.Sequence);
            json.WriteString("previous_head", Digest(previous.Head, format));
        }
        json.WriteString("reason", reason);
        json.WriteEndObject();
    }

    /// <summary>
    /// The first line of a file the log rotated to: record <paramref name="previous"/> (the last line of
    /// <paramref name="previousFile"/>, a file name without folder) is the line before it, so its sequence number is
    /// one more and its prev that record's hash.
    /// </summary>
    public static void WriteContinues(DateTime time, string tenant, string replica, AuditAnchor previous, string previousFile, IBufferWriter<byte> output)
    {
        using var json = new Utf8JsonWriter(output);
        WriteStart(json, previous.Sequence + 1, time, ContinuesOperation, tenant, replica, CurrentFormat);
        json.WriteNumber("format", CurrentFormat);
        json.WriteNumber("previous_seq", previous.Sequence);
        json.WriteString("previous_head", Digest(previous.Head));
        json.WriteString("previous_file", previousFile);
        json.WriteEndObject();
    }

    private static ReadOnlySpan<byte> MacLabel => "KeylessOrleans audit checkpoint v1\n"u8;

    /// <summary>HMAC-SHA256(key, "KeylessOrleans audit checkpoint v1\n" ‖ covers as decimal ‖ "\n" ‖ head as lowercase hex), whatever the line format.</summary>
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
    public static byte[] WriteLine(ReadOnlySpan<byte> recordBytes, ReadOnlySpan<byte> prev, IBufferWriter<byte> output, int format = CurrentFormat)
    {
        // One-shot hash over a copy: the writer does this for every record, and a copy of ~300 bytes is cheaper
        // than an incremental hash object.
        var hashed = ArrayPool<byte>.Shared.Rent(HashSize + recordBytes.Length);
        prev.CopyTo(hashed);
        recordBytes.CopyTo(hashed.AsSpan(HashSize));
        var hash = SHA256.HashData(hashed.AsSpan(0, HashSize + recordBytes.Length));
        ArrayPool<byte>.Shared.Return(hashed);
        var suffix = format == 1 ? V1 : V2;
        var body = recordBytes[..^1]; // without its closing brace
        var span = output.GetSpan(body.Length + suffix.Length + 1);
        body.CopyTo(span);
        var at = body.Length;
        at += Put(span[at..], suffix.PrevPrefix);
        at += PutDigest(span[at..], prev, format);
        at += Put(span[at..], suffix.HashPrefix);
        at += PutDigest(span[at..], hash, format);
        at += Put(span[at..], suffix.LineEnd);
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
        if (line.Length < 2 || line[0] != (byte)'{')
            return Fail(out problem, "not an audit record (too short or not a JSON object)");
        var suffix = line.Length > V2.Length + 1 && line[^V2.Length..].StartsWith(V2.PrevPrefix) ? V2
            : line.Length > V1.Length + 1 && line[^V1.Length..].StartsWith(V1.PrevPrefix) ? V1
            : null;
        if (suffix is null) return Fail(out problem, "not an audit record (no prev and hash at its end)");
        var tail = line[^suffix.Length..];
        var prevText = tail.Slice(suffix.PrevPrefix.Length, suffix.DigestLength);
        var hashText = tail.Slice(suffix.PrevPrefix.Length + suffix.DigestLength + suffix.HashPrefix.Length, suffix.DigestLength);
        if (!tail[(suffix.PrevPrefix.Length + suffix.DigestLength)..].StartsWith(suffix.HashPrefix) || !tail.EndsWith(suffix.LineEnd)
            || !TryDigest(prevText, suffix.Format, out var prev) || !TryDigest(hashText, suffix.Format, out var hash))
            return Fail(out problem, "not an audit record (no prev and hash at its end)");

        var format = suffix.Format;
        var body = line[..^suffix.Length];
        var recordBytes = new byte[body.Length + 1];
        body.CopyTo(recordBytes);
        recordBytes[^1] = (byte)'}';
        long sequence;
        DateTime time;
        string? operation;
        CheckpointLine? checkpoint = null;
        AuditAnchor? replaces = null;
        AuditAnchor? continues = null;
        string? previousFile = null;
        try
        {
            using var document = JsonDocument.Parse(recordBytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty(Name(format, "seq", "n"), out var seq) || seq.ValueKind != JsonValueKind.Number || !seq.TryGetInt64(out sequence)
                || !root.TryGetProperty(Name(format, "time", "t"), out var t) || t.ValueKind != JsonValueKind.String
                || !DateTime.TryParseExact(t.GetString(), TimeFormat, CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out time))
                return Fail(out problem, "not an audit record (no valid sequence number or time)");
            operation = root.TryGetProperty("op", out var op) && op.ValueKind == JsonValueKind.String ? op.GetString() : null;
            if (operation == CheckpointOperation)
            {
                if (!root.TryGetProperty("covers", out var covers) || !covers.TryGetInt64(out var coversValue)
                    || !TryDigestProperty(root, "head", format, out var head) || !TryDigestProperty(root, "hmac", format, out var hmac))
                    return Fail(out problem, "checkpoint without valid \"covers\", \"head\" and \"hmac\"");
                checkpoint = new CheckpointLine(coversValue, head, hmac);
            }
            else if (operation is ChainStartOperation or ContinuesOperation
                && root.TryGetProperty("previous_seq", out var previousSeq) && previousSeq.ValueKind == JsonValueKind.Number
                && previousSeq.TryGetInt64(out var previousSequence) && TryDigestProperty(root, "previous_head", format, out var previousHead))
            {
                if (operation == ChainStartOperation) replaces = new AuditAnchor(previousSequence, previousHead);
                else
                {
                    continues = new AuditAnchor(previousSequence, previousHead);
                    previousFile = root.TryGetProperty("previous_file", out var file) && file.ValueKind == JsonValueKind.String ? file.GetString() : null;
                }
            }
            else if (operation == ContinuesOperation)
            {
                return Fail(out problem, "continues line without valid \"previous_seq\" and \"previous_head\"");
            }
        }
        catch (JsonException e)
        {
            return Fail(out problem, $"not valid JSON ({e.Message.Split('.')[0]})");
        }
        var intact = CryptographicOperations.FixedTimeEquals(hash, Hash(prev, body));
        return new ParsedLine(sequence, time, prev, hash, intact)
        {
            Operation = operation, Checkpoint = checkpoint, Replaces = replaces, Continues = continues, PreviousFile = previousFile, Format = format,
        };
    }

    private static bool TryDigestProperty(JsonElement root, string name, int format, out byte[] bytes)
    {
        bytes = [];
        return root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            && value.GetString() is { } text && TryDigest(Encoding.ASCII.GetBytes(text), format, out bytes);
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

    private static int PutDigest(Span<byte> destination, ReadOnlySpan<byte> bytes, int format)
    {
        int written;
        if (format == 1) Convert.TryToHexStringLower(bytes, destination, out written);
        else Base64Url.TryEncodeToUtf8(bytes, destination, out written);
        return written;
    }

    /// <summary>
    /// A 32-byte digest as this format writes it, exactly: lowercase hex (v1) or unpadded base64url (v2). The writer
    /// never writes anything else, so anything else (upper case, padding) is an edit.
    /// </summary>
    private static bool TryDigest(ReadOnlySpan<byte> text, int format, out byte[] bytes)
    {
        bytes = [];
        if (format == 1)
        {
            if (text.Length != 2 * HashSize) return false;
            foreach (var c in text)
                if (c is not (>= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f')) return false;
            bytes = Convert.FromHexString(Encoding.ASCII.GetString(text));
            return true;
        }
        if (text.Length != Base64Size) return false;
        var decoded = new byte[HashSize];
        if (Base64Url.DecodeFromUtf8(text, decoded, out var consumed, out var written) != OperationStatus.Done || consumed != Base64Size || written != HashSize)
            return false;
        Span<byte> again = stackalloc byte[Base64Size];
        Base64Url.EncodeToUtf8(decoded, again);
        if (!again.SequenceEqual(text)) return false; // non-canonical trailing bits
        bytes = decoded;
        return true;
    }
}

/// <summary>What a line says about itself; <see cref="HashMatches"/> is false when its bytes are not what was hashed.</summary>
internal sealed record ParsedLine(long Sequence, DateTime Time, byte[] Prev, byte[] Hash, bool HashMatches)
{
    public string? Operation { get; init; }

    /// <summary>Set on a checkpoint line.</summary>
    public CheckpointLine? Checkpoint { get; init; }

    /// <summary>Set on a chain_start line that names the chain it replaces.</summary>
    public AuditAnchor? Replaces { get; init; }

    /// <summary>Set on a continues line: the previous file's last record and hash.</summary>
    public AuditAnchor? Continues { get; init; }

    /// <summary>The previous file a continues line names (its name, without folder).</summary>
    public string? PreviousFile { get; init; }

    /// <summary>1 or 2 (see <see cref="AuditChain"/>).</summary>
    public int Format { get; init; }
}

/// <summary>A checkpoint's claim: record <see cref="Covers"/> has hash <see cref="Head"/>, authenticated by <see cref="Hmac"/>.</summary>
internal sealed record CheckpointLine(long Covers, byte[] Head, byte[] Hmac);

/// <summary>
/// A chain head known from elsewhere (a shipped heads line, the key server's state file, an operator's note): record
/// <see cref="Sequence"/> of the chain has hash <see cref="Head"/>. Written and parsed as <c>SEQ:HEADHEX</c>.
/// </summary>
internal sealed record AuditAnchor(long Sequence, byte[] Head)
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
