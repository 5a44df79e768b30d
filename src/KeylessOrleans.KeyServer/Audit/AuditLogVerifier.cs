using System.Security.Cryptography;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>Where a chain breaks: the record's position (1-based), its line and what is wrong.</summary>
public sealed record AuditBreak(long Record, long Line, string Reason);

/// <summary>A checkpoint found in the chain: line <see cref="Sequence"/> vouches for record <see cref="Covers"/> and its hash.</summary>
public sealed record AuditCheckpoint(long Sequence, DateTime Time, long Covers, byte[] Head, byte[] Hmac)
{
    public AuditAnchor Anchor => new(Covers, Head);
}

/// <summary>How a known head (<see cref="AuditAnchor"/>) compares with the file.</summary>
public enum AuditAnchorStatus
{
    /// <summary>Record <see cref="AuditAnchor.Sequence"/> is in the file with that hash.</summary>
    Met,

    /// <summary>The intact chain ends before that record: its tail was cut off (or the chain breaks before it).</summary>
    CutOff,

    /// <summary>The record is there with another hash: the chain was rewritten or replaced.</summary>
    Mismatch,
}

/// <summary>
/// The outcome of walking a chain. <see cref="ValidLength"/> bytes, holding <see cref="Records"/> records, are intact.
/// Checkpoints are counted always and authenticated only when the walk had the key (<see cref="KeyChecked"/>).
/// </summary>
public sealed record AuditVerification(long Records, DateTime? First, DateTime? Last, byte[] Head, long ValidLength, AuditBreak? Break)
{
    public bool IsIntact => Break is null;
    public string HeadHex => Convert.ToHexStringLower(Head);

    public int Checkpoints { get; init; }

    /// <summary>The last checkpoint of the intact part, or null when it has none.</summary>
    public AuditCheckpoint? LastCheckpoint { get; init; }

    /// <summary>Whether every checkpoint's HMAC was checked against a key.</summary>
    public bool KeyChecked { get; init; }

    /// <summary>The chain's first line is a chain_start.</summary>
    public bool StartsChain { get; init; }

    /// <summary>The chain this one replaced, as its chain_start line names it (null when it names none or has none).</summary>
    public AuditAnchor? Replaces { get; init; }

    /// <summary>Records after the last checkpoint (all of them when there is none): what no key vouches for yet.</summary>
    public long Uncovered => Records - (LastCheckpoint?.Sequence ?? 0);

    /// <summary>The anchor's verdict, when the walk was given one.</summary>
    public AuditAnchorStatus? Anchor { get; init; }
}

/// <summary>
/// Walks an audit log from the first line and stops at the first one that does not continue the chain: a line
/// that is not a record, a hash that does not match the bytes (the record was edited), a prev that is not the hash
/// before it (a record was deleted, inserted or moved), a sequence number that does not follow, and — given the key —
/// a checkpoint whose HMAC does not match (forged, or another key). Given an anchor it also says whether the record it
/// names is there with its hash: a tail cut off after it cannot be seen from the file alone. Streams the file, so a
/// large log costs time, not memory.
/// </summary>
public static class AuditLogVerifier
{
    /// <summary>Longer lines are not records: the writer caps every field (<see cref="AuditLog.MaxFieldLength"/>).</summary>
    public const int MaxLineLength = 64 * 1024;

    public static AuditVerification VerifyFile(string path, byte[]? key = null, AuditAnchor? anchor = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        return Verify(stream, key, anchor);
    }

    public static AuditVerification Verify(Stream stream, byte[]? key = null, AuditAnchor? anchor = null)
    {
        var state = new Walk(key, anchor);
        var buffer = new byte[MaxLineLength];
        int start = 0, end = 0;
        while (true)
        {
            var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                if (!state.Accept(buffer.AsSpan(start, newline), terminated: true)) return state.Result();
                start += newline + 1;
                continue;
            }
            if (end - start == buffer.Length)
            {
                state.StopAtNextLine($"line longer than {MaxLineLength} bytes: not an audit record");
                return state.Result();
            }
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            end -= start;
            start = 0;
            var read = stream.Read(buffer, end, buffer.Length - end);
            if (read == 0)
            {
                if (end > 0) state.Accept(buffer.AsSpan(0, end), terminated: false);
                return state.Result();
            }
            end += read;
        }
    }

    private sealed class Walk(byte[]? key, AuditAnchor? anchor)
    {
        private long _records;
        private long _line;
        private DateTime? _first;
        private DateTime? _last;
        private byte[] _head = AuditChain.Genesis;
        private long _validLength;
        private AuditBreak? _break;
        private int _checkpoints;
        private AuditCheckpoint? _lastCheckpoint;
        private bool _startsChain;
        private AuditAnchor? _replaces;
        private AuditAnchorStatus? _anchor;

        public bool Accept(ReadOnlySpan<byte> line, bool terminated)
        {
            _line++;
            if (!terminated)
            {
                Stop("incomplete last line (no newline): a torn write or a truncated file");
                return false;
            }
            var parsed = AuditChain.Parse(line, out var problem);
            if (parsed is null) return Stop(problem!);
            if (!parsed.HashMatches) return Stop("hash mismatch: the record was edited after it was written");
            if (!parsed.Prev.AsSpan().SequenceEqual(_head))
                return Stop(_records == 0
                    ? "prev is not the genesis value: a record was deleted, inserted or moved here"
                    : $"prev is not the hash of record {_records}: a record was deleted, inserted or moved here");
            if (parsed.Sequence != _records + 1) return Stop($"sequence gap: expected {_records + 1}, found {parsed.Sequence}");
            if (parsed.Operation == AuditChain.ChainStartOperation && _records != 0) return Stop("chain_start in the middle of a chain");
            if (parsed.Checkpoint is { } checkpoint)
            {
                if (checkpoint.Covers != _records || !checkpoint.Head.AsSpan().SequenceEqual(_head))
                    return Stop($"checkpoint does not name the record before it (it names record {checkpoint.Covers})");
                if (key is not null && !CryptographicOperations.FixedTimeEquals(checkpoint.Hmac, AuditChain.CheckpointMac(key, checkpoint.Covers, checkpoint.Head)))
                    return Stop("checkpoint HMAC does not match the key: a forged checkpoint, or another key than the one that wrote this log");
                _checkpoints++;
                _lastCheckpoint = new AuditCheckpoint(parsed.Sequence, parsed.Time, checkpoint.Covers, checkpoint.Head, checkpoint.Hmac);
            }
            if (_records == 0)
            {
                _startsChain = parsed.Operation == AuditChain.ChainStartOperation;
                _replaces = parsed.Replaces;
            }

            _records++;
            _first ??= parsed.Time;
            _last = parsed.Time;
            _head = parsed.Hash;
            _validLength += line.Length + 1;
            if (anchor is not null && _records == anchor.Sequence)
                _anchor = parsed.Hash.AsSpan().SequenceEqual(anchor.Head) ? AuditAnchorStatus.Met : AuditAnchorStatus.Mismatch;
            return true;
        }

        public void StopAtNextLine(string reason)
        {
            _line++;
            Stop(reason);
        }

        private bool Stop(string reason)
        {
            _break = new AuditBreak(_records + 1, _line, reason);
            return false;
        }

        public AuditVerification Result() => new(_records, _first, _last, _head, _validLength, _break)
        {
            Checkpoints = _checkpoints,
            LastCheckpoint = _lastCheckpoint,
            KeyChecked = key is not null,
            StartsChain = _startsChain,
            Replaces = _replaces,
            Anchor = anchor is null ? null : _anchor ?? AuditAnchorStatus.CutOff,
        };
    }
}
