using System.Security.Cryptography;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>Where a chain breaks: the record's position (1-based), its line and what is wrong.</summary>
internal sealed record AuditBreak(long Record, long Line, string Reason);

/// <summary>A checkpoint found in the chain: line <see cref="Sequence"/> vouches for record <see cref="Covers"/> and its hash.</summary>
internal sealed record AuditCheckpoint(long Sequence, DateTime Time, long Covers, byte[] Head, byte[] Hmac)
{
    public AuditAnchor Anchor => new(Covers, Head);
}

/// <summary>How a known head (<see cref="AuditAnchor"/>) compares with the file.</summary>
internal enum AuditAnchorStatus
{
    /// <summary>Record <see cref="AuditAnchor.Sequence"/> is in the file with that hash.</summary>
    Met,

    /// <summary>The intact chain ends before that record: its tail was cut off (or the chain breaks before it).</summary>
    CutOff,

    /// <summary>The record is there with another hash: the chain was rewritten or replaced.</summary>
    Mismatch,

    /// <summary>The record is before the first file walked (it begins with a continues line): the files before it would tell.</summary>
    Earlier,
}

/// <summary>
/// The outcome of walking a chain. <see cref="ValidLength"/> bytes, holding <see cref="Records"/> records, are intact.
/// Checkpoints are counted always and authenticated only when the walk had the key (<see cref="KeyChecked"/>).
/// </summary>
internal sealed record AuditVerification(long Records, DateTime? First, DateTime? Last, byte[] Head, long ValidLength, AuditBreak? Break)
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
    public long Uncovered => Records - (LastCheckpoint?.Sequence ?? ContinuesFrom?.Sequence ?? 0);

    /// <summary>The anchor's verdict, when the walk was given one.</summary>
    public AuditAnchorStatus? Anchor { get; init; }

    /// <summary>
    /// The record the walk started after, when its first file begins with a continues line (an earlier file of the
    /// chain was not part of the walk, e.g. removed by retention): taken on trust, as the continues line names it.
    /// </summary>
    public AuditAnchor? ContinuesFrom { get; init; }

    /// <summary>The file the first continues line names (without folder).</summary>
    public string? ContinuesFile { get; init; }

    /// <summary>The first record's sequence number: 1, or one after <see cref="ContinuesFrom"/>.</summary>
    public long FirstSequence => (ContinuesFrom?.Sequence ?? 0) + 1;

    /// <summary>Files walked (the one that breaks included).</summary>
    public int Files { get; init; }

    /// <summary>Chains walked: more than one when a later file begins a new chain (chain_start) after an older one.</summary>
    public int Chains { get; init; }

    /// <summary>Lines written in the v1 format (long names, hex digests), readable but no longer written.</summary>
    public long FormatV1Lines { get; init; }
}

/// <summary>
/// Walks an audit log from the first line and stops at the first one that does not continue the chain: a line
/// that is not a record, a hash that does not match the bytes (the record was edited), a prev that is not the hash
/// before it (a record was deleted, inserted or moved), a sequence number that does not follow, and — given the key —
/// a checkpoint whose HMAC does not match (forged, or another key). Given an anchor it also says whether the record it
/// names is there with its hash: a tail cut off after it cannot be seen from the file alone. Streams the file, so a
/// large log costs time, not memory.
/// </summary>
internal static class AuditLogVerifier
{
    /// <summary>Longer lines are not records: the writer caps every field (<see cref="AuditLog.MaxFieldLength"/>).</summary>
    public const int MaxLineLength = 64 * 1024;

    /// <summary>One file (gzip-compressed when its name ends in .gz); a first continues line is taken on trust.</summary>
    public static AuditVerification VerifyFile(string path, byte[]? key = null, AuditAnchor? anchor = null) => VerifyFiles([path], key, anchor);

    /// <summary>
    /// Files of one log in chain order (<see cref="AuditLogFiles.Chain"/>): each after the first must begin with a
    /// continues line naming the last record and hash of the one before (or a chain_start: a new chain begins), so a
    /// file removed, reordered or edited between them breaks the walk there. Stops at the first break.
    /// </summary>
    public static AuditVerification VerifyFiles(IReadOnlyList<string> paths, byte[]? key = null, AuditAnchor? anchor = null)
    {
        var state = new Walk(key, anchor);
        foreach (var path in paths)
        {
            using var stream = AuditLogFiles.OpenRead(path);
            state.BeginFile(System.IO.Path.GetFileName(path));
            if (!Verify(stream, state)) break;
        }
        return state.Result();
    }

    /// <summary>
    /// A whole log as it is on disk, while its key server may still be writing it: the rotated files of
    /// <paramref name="live"/> in chain order, then the live file. Walking a large log takes a while, and meanwhile the
    /// writer rotates, compresses and deletes past retention, so: a file listed plain but compressed since is read
    /// compressed; a file gone before it was opened, with every file walked before it, was taken by retention (oldest
    /// first), so the walk starts again after it (its continues line taken on trust), while a file gone from between
    /// files still there is reported missing by the next one's continues line; and the files the live file rotated to
    /// after the listing are walked before the live file that continues them.
    /// </summary>
    public static AuditVerification VerifyLog(string live, byte[]? key = null, AuditAnchor? anchor = null)
    {
        var state = new Walk(key, anchor);
        var walked = new List<string>();
        AuditRotatedFile? last = null;
        bool WalkRotated(AuditRotatedFile file)
        {
            var plain = file.Compressed ? file.Path[..^3] : file.Path;
            last = file;
            var stream = OpenPlainOrCompressed(plain);
            if (stream is null && walked.TrueForAll(p => !File.Exists(p) && !File.Exists(p + ".gz")))
            {
                (state, walked) = (new Walk(key, anchor), []); // retention went past everything walked so far
                return true;
            }
            walked.Add(plain);
            if (stream is null) return true;
            using (stream)
            {
                state.BeginFile(System.IO.Path.GetFileName(file.Path));
                return Verify(stream, state);
            }
        }

        foreach (var file in AuditLogFiles.Rotated(live))
            if (!WalkRotated(file)) return state.Result();

        Stream liveStream;
        try
        {
            liveStream = AuditLogFiles.OpenRead(live);
        }
        catch (FileNotFoundException)
        {
            return state.Result();
        }
        using (liveStream)
        {
            // Opened first, listed again second: a rotation before the opening shows in the listing, one after it only
            // renames the file this stream already reads. So the files to walk before it are the new ones up to the
            // record its continues line names.
            if (FirstLine(liveStream)?.Continues is { } continues)
            {
                foreach (var file in AuditLogFiles.Rotated(live))
                {
                    var plain = file.Compressed ? file.Path[..^3] : file.Path;
                    if (walked.Contains(plain) || file.LastSequence > continues.Sequence) continue;
                    if (last is not null && (file.Rotated, file.LastSequence).CompareTo((last.Rotated, last.LastSequence)) < 0) continue;
                    if (!WalkRotated(file)) return state.Result();
                }
            }
            state.BeginFile(System.IO.Path.GetFileName(live));
            Verify(liveStream, state);
        }
        return state.Result();
    }

    /// <summary>A rotated file, or the same file compressed since it was listed; null when it is gone.</summary>
    private static Stream? OpenPlainOrCompressed(string plain)
    {
        foreach (var path in new[] { plain, plain + ".gz" })
        {
            try
            {
                return AuditLogFiles.OpenRead(path);
            }
            catch (FileNotFoundException)
            {
            }
        }
        return null;
    }

    /// <summary>The stream's first line, parsed (null when it has none or it is not a line of the log); the stream is put back at its start.</summary>
    private static ParsedLine? FirstLine(Stream stream)
    {
        var buffer = new byte[MaxLineLength];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0)
        {
            length += read;
            if (buffer.AsSpan(0, length).IndexOf((byte)'\n') >= 0) break;
        }
        stream.Seek(0, SeekOrigin.Begin);
        var newline = buffer.AsSpan(0, length).IndexOf((byte)'\n');
        return newline < 0 ? null : AuditChain.Parse(buffer.AsSpan(0, newline), out _);
    }

    public static AuditVerification Verify(Stream stream, byte[]? key = null, AuditAnchor? anchor = null)
    {
        var state = new Walk(key, anchor);
        state.BeginFile(null);
        Verify(stream, state);
        return state.Result();
    }

    /// <summary>Walks one stream; false when the chain breaks in it.</summary>
    private static bool Verify(Stream stream, Walk state)
    {
        var buffer = new byte[MaxLineLength];
        int start = 0, end = 0;
        while (true)
        {
            var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                if (!state.Accept(buffer.AsSpan(start, newline), terminated: true)) return false;
                start += newline + 1;
                continue;
            }
            if (end - start == buffer.Length)
            {
                state.StopAtNextLine($"line longer than {MaxLineLength} bytes: not an audit record");
                return false;
            }
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            end -= start;
            start = 0;
            var read = stream.Read(buffer, end, buffer.Length - end);
            if (read == 0)
            {
                return end == 0 || state.Accept(buffer.AsSpan(0, end), terminated: false);
            }
            end += read;
        }
    }

    private sealed class Walk(byte[]? key, AuditAnchor? anchor)
    {
        private long _records; // the last sequence number
        private long _line; // within the current file
        private bool _anyLine;
        private bool _fileStart;
        private string? _file;
        private int _files;
        private int _chains;
        private long _v1;
        private DateTime? _first;
        private DateTime? _last;
        private byte[] _head = AuditChain.Genesis;
        private long _validLength;
        private AuditBreak? _break;
        private int _checkpoints;
        private AuditCheckpoint? _lastCheckpoint;
        private bool _startsChain;
        private AuditAnchor? _replaces;
        private AuditAnchor? _continuesFrom;
        private string? _continuesFile;
        private AuditAnchorStatus? _anchor;

        public void BeginFile(string? name)
        {
            _file = name;
            _files++;
            _line = 0;
            _validLength = 0;
            _fileStart = true;
        }

        private string In => _files > 1 && _file is not null ? $" (in {_file})" : "";

        public bool Accept(ReadOnlySpan<byte> line, bool terminated)
        {
            _line++;
            var fileStart = _fileStart;
            _fileStart = false;
            if (!terminated)
            {
                Stop("incomplete last line (no newline): a torn write or a truncated file");
                return false;
            }
            var parsed = AuditChain.Parse(line, out var problem);
            if (parsed is null) return Stop(problem!);
            if (!parsed.HashMatches) return Stop("hash mismatch: the record was edited after it was written");
            if (parsed.Operation == AuditChain.ContinuesOperation)
            {
                var from = parsed.Continues!;
                if (!fileStart) return Stop("continues line in the middle of a file");
                if (!_anyLine)
                {
                    // The walk's first file continues one not walked: start from what it names.
                    (_records, _head, _continuesFrom, _continuesFile) = (from.Sequence, from.Head, from, parsed.PreviousFile);
                    if (anchor is not null && anchor.Sequence <= from.Sequence)
                        _anchor = anchor.Sequence < from.Sequence ? AuditAnchorStatus.Earlier
                            : from.Head.AsSpan().SequenceEqual(anchor.Head) ? AuditAnchorStatus.Met : AuditAnchorStatus.Mismatch;
                }
                else if (from.Sequence != _records || !from.Head.AsSpan().SequenceEqual(_head))
                {
                    return Stop($"this file continues record {from.Sequence} of {parsed.PreviousFile ?? "another file"}, but the file before it ends at record {_records} " +
                        "with another hash: a file between them is missing, or the files are not of one chain");
                }
            }
            else if (fileStart && _anyLine && parsed.Operation == AuditChain.ChainStartOperation)
            {
                // A later file starts a new chain (the earlier one could not be continued): walk it as such.
                (_records, _head, _lastCheckpoint) = (0, AuditChain.Genesis, null);
                if (_anchor is not AuditAnchorStatus.Met) _anchor = null;
            }
            else if (fileStart && _anyLine)
            {
                return Stop("a file after the first neither continues the chain (continues line) nor starts a new one (chain_start)");
            }
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
            if (parsed.Operation == AuditChain.ChainStartOperation)
            {
                _chains++;
                _startsChain |= !_anyLine;
                _replaces = parsed.Replaces;
            }
            if (!_anyLine && parsed.Operation == AuditChain.ContinuesOperation) _chains++;
            if (parsed.Format == 1) _v1++;

            _anyLine = true;
            _records = parsed.Sequence;
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
            _break = new AuditBreak(_records + 1, _line, reason + In);
            return false;
        }

        public AuditVerification Result() => new(_records, _first, _last, _head, _validLength, _break)
        {
            Checkpoints = _checkpoints,
            LastCheckpoint = _lastCheckpoint,
            KeyChecked = key is not null,
            StartsChain = _startsChain,
            Replaces = _replaces,
            ContinuesFrom = _continuesFrom,
            ContinuesFile = _continuesFile,
            Files = _files,
            Chains = _chains,
            FormatV1Lines = _v1,
            Anchor = anchor is null ? null : _anchor ?? AuditAnchorStatus.CutOff,
        };
    }
}
