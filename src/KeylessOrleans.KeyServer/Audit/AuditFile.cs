using System.Buffers;
using System.Globalization;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>How <see cref="AuditFile.Open"/> found the log: continued, or a new chain (and then why, and what it replaces).</summary>
/// <param name="Problem">Why the existing file could not be continued, or null (a first start, or a continued chain).</param>
/// <param name="MovedAside">Where the file that could not be continued went.</param>
public sealed record AuditOpening(bool NewChain, string? Problem, AuditAnchor? Replaces, string? MovedAside, long Continued, byte[] Head);

/// <summary>
/// The open audit log file, its chain head and its key. Opening takes an exclusive lock (<c>&lt;path&gt;.lock</c>: a
/// second process on the same file would interleave two chains), verifies every existing line (checkpoints with the
/// key), checks the file still holds the record the state file (<see cref="AuditState"/>) last saw, and continues
/// after the last line — or starts a new chain, whose first line (chain_start) names the chain it replaces.
/// Only one thread uses an instance: the audit log's writer.
/// </summary>
internal sealed class AuditFile : IDisposable
{
    private readonly FileStream _lock;
    private readonly FileStream _stream;
    private readonly byte[] _key;
    private readonly string _statePath;
    private readonly string _tenant;
    private readonly string _replica;
    private readonly ArrayBufferWriter<byte> _batch = new(64 * 1024);
    private readonly ArrayBufferWriter<byte> _record = new(1024);
    private long _length;
    private bool _mayHaveTornTail;

    private AuditFile(string path, FileStream @lock, FileStream stream, byte[] key, string statePath, string tenant, string replica, AuditVerification existing)
    {
        Path = path;
        _lock = @lock;
        _stream = stream;
        _key = key;
        _statePath = statePath;
        _tenant = tenant;
        _replica = replica;
        Sequence = existing.Records;
        Head = existing.Head;
        LastCheckpoint = existing.LastCheckpoint;
        _length = existing.ValidLength;
    }

    public string Path { get; }

    /// <summary>The last line's sequence number (0 for an empty file).</summary>
    public long Sequence { get; private set; }

    /// <summary>The last line's hash (the genesis value for an empty file).</summary>
    public byte[] Head { get; private set; }

    public AuditCheckpoint? LastCheckpoint { get; private set; }

    /// <summary>Lines after the last checkpoint.</summary>
    public long Uncovered => Sequence - (LastCheckpoint?.Sequence ?? 0);

    private static readonly AuditVerification Empty = new(0, null, null, AuditChain.Genesis, 0, null);

    /// <summary>Opens or creates (mode 0600) the log; throws <see cref="InvalidDataException"/> with the reason when it may not continue it.</summary>
    public static AuditFile Open(AuditLogOptions settings, string tenant, string replica, out AuditOpening opening)
    {
        var path = settings.ResolvePath(tenant, replica);
        var keyPath = settings.ResolveKeyPath(tenant, replica);
        var statePath = settings.ResolveStatePath(tenant, replica);
        var @lock = Lock(path);
        try
        {
            var state = AuditState.Read(statePath);
            var key = File.Exists(keyPath) ? AuditKey.Read(keyPath) : null;
            var hasContent = File.Exists(path) && new FileInfo(path).Length > 0;
            var existing = hasContent ? Verify(path, key, state?.Last) : Empty;

            string? problem = null;
            var recoverable = settings.AllowNewChain;
            var hint = "Restore it, or start a new chain for one start with Keyless:KeyServer:AuditLog:AllowNewChain=true (its first record names the chain it replaces).";
            AuditAnchor? replaces = null;
            var lastIntact = existing.Records > 0 ? new AuditAnchor(existing.Records, existing.Head) : null;
            if (existing.Break is { } broken)
            {
                problem = $"audit log {path} is broken at record {broken.Record} (line {broken.Line}): {broken.Reason}.";
                recoverable |= settings.IfBroken == AuditLogRecovery.MoveAside;
                hint = "The key server does not append to a broken chain: keep the file as evidence and move it aside (a new chain starts), " +
                    $"or set Keyless:KeyServer:AuditLog:IfBroken to {AuditLogRecovery.MoveAside}.";
                replaces = state is not null && state.Last.Sequence > existing.Records ? state.Last : lastIntact;
            }
            else if (key is null && existing.Checkpoints > 0)
            {
                problem = $"audit log {path} has checkpoints but its key {keyPath} is missing: they can be neither verified nor continued.";
                replaces = lastIntact;
            }
            else if (state is not null && existing.Anchor != AuditAnchorStatus.Met)
            {
                problem = !hasContent
                    ? $"audit log {path} is missing or empty, but the key server's state {statePath} says its chain reached record {state.Last.Sequence} (head {state.Last.HeadHex})."
                    : existing.Anchor == AuditAnchorStatus.CutOff
                        ? $"audit log {path} ends at record {existing.Records}, but the key server's state {statePath} says record {state.Last.Sequence} was written: its tail was cut off."
                        : $"record {state.Last.Sequence} of audit log {path} is not the one the key server's state {statePath} names: the chain was replaced.";
                replaces = state.Last;
            }
            if (problem is not null)
            {
                if (!recoverable) throw new InvalidDataException($"{problem} {hint}");
                existing = Empty;
            }

            string? movedAside = null;
            if (problem is not null && hasContent) movedAside = MoveAside(path);
            key ??= CreateKey(keyPath);
            var stream = OpenForAppending(path);
            if (stream.Length != existing.ValidLength)
            {
                stream.Dispose();
                throw new InvalidDataException($"audit log {path} changed while it was being verified; is another program writing it?");
            }
            stream.Position = existing.ValidLength;
            var file = new AuditFile(path, @lock, stream, key, statePath, tenant, replica, existing);
            if (existing.Records == 0)
            {
                try
                {
                    file.SaveState(file.StartChain(replaces, problem ?? "new audit log"));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    file._stream.Dispose();
                    throw new InvalidDataException($"audit log {path}: the new chain's first records cannot be written: {e.Message}", e);
                }
            }
            opening = new AuditOpening(existing.Records == 0, problem, replaces, movedAside, existing.Records, file.Head);
            return file;
        }
        catch
        {
            @lock.Dispose();
            throw;
        }
    }

    private static AuditVerification Verify(string path, byte[]? key, AuditAnchor? anchor)
    {
        try
        {
            return AuditLogVerifier.VerifyFile(path, key, anchor);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"audit log {path} cannot be read to verify it: {e.Message}", e);
        }
    }

    private static string MoveAside(string path)
    {
        var aside = $"{path}.broken-{DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}";
        try
        {
            File.Move(path, aside);
            return aside;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"audit log {path} cannot be moved aside to start a new chain: {e.Message}", e);
        }
    }

    private static byte[] CreateKey(string keyPath)
    {
        try
        {
            return AuditKey.Create(keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"audit key {keyPath} cannot be created: {e.Message}", e);
        }
    }

    /// <summary>Files it creates get mode 0600: the log says who used which key when, the tenant's business only.</summary>
    private static FileStreamOptions OwnerOnly(FileStreamOptions options)
    {
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return options;
    }

    private static FileStream OpenForAppending(string path)
    {
        try
        {
            return new FileStream(path, OwnerOnly(new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.Write,
                Share = FileShare.Read, // `keyless audit verify` may read a live log
                BufferSize = 0, // one write(2) per batch, so a batch is never left half in our buffer
            }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"audit log {path} cannot be opened for writing: {e.Message}", e);
        }
    }

    private static FileStream Lock(string path)
    {
        try
        {
            // FileShare.None is an exclusive flock(2) on Linux, released by the kernel if the process dies.
            return new FileStream(path + ".lock", OwnerOnly(new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
            }));
        }
        catch (IOException)
        {
            throw new InvalidDataException($"audit log {path} is in use by another process (lock {path}.lock): two writers would break its chain.");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InvalidDataException($"audit log {path}: cannot create its lock file ({e.Message}).");
        }
    }

    /// <summary>The first lines of a new chain: chain_start, then a checkpoint over it, written and fsynced.</summary>
    private AuditCheckpoint StartChain(AuditAnchor? replaces, string reason)
    {
        _record.ResetWrittenCount();
        AuditChain.WriteChainStart(DateTime.UtcNow, _tenant, _replica, replaces, reason, _record);
        _batch.ResetWrittenCount();
        var head = AuditChain.WriteLine(_record.WrittenSpan, AuditChain.Genesis, _batch);
        var checkpoint = AppendCheckpoint(1, head, out head);
        WriteAndSync();
        _length += _batch.WrittenCount;
        (Sequence, Head, LastCheckpoint) = (2, head, checkpoint);
        return checkpoint;
    }

    /// <summary>
    /// Chains <paramref name="records"/> after the head — and a checkpoint after them when <paramref name="checkpoint"/>
    /// and anything is uncovered — writes them with one write(2) and fsyncs: when this returns they survive a power
    /// loss. Numbers them from <see cref="Sequence"/> + 1. On failure the head is unchanged and the next call first
    /// cuts the file back to its last committed line, so no record of a failed call stays in the file.
    /// </summary>
    /// <returns>The checkpoint written, or null.</returns>
    public AuditCheckpoint? Commit(IReadOnlyList<AuditRecord> records, bool checkpoint)
    {
        if (_mayHaveTornTail)
        {
            // A failed write or fsync may have left part of a batch behind: cut back to the last committed line first.
            _stream.SetLength(_length);
            _stream.Position = _length;
            _mayHaveTornTail = false;
        }
        _batch.ResetWrittenCount();
        var head = Head;
        var sequence = Sequence;
        foreach (var record in records)
        {
            _record.ResetWrittenCount();
            AuditChain.WriteRecord(record with { Sequence = ++sequence }, _record);
            head = AuditChain.WriteLine(_record.WrittenSpan, head, _batch);
        }
        AuditCheckpoint? written = null;
        if (checkpoint && sequence > (LastCheckpoint?.Sequence ?? 0))
        {
            written = AppendCheckpoint(sequence, head, out head);
            sequence++;
        }
        if (_batch.WrittenCount == 0) return null;
        WriteAndSync();
        _length += _batch.WrittenCount;
        (Sequence, Head) = (sequence, head);
        if (written is not null) LastCheckpoint = written;
        return written;
    }

    private AuditCheckpoint AppendCheckpoint(long covers, byte[] coveredHead, out byte[] head)
    {
        var mac = AuditChain.CheckpointMac(_key, covers, coveredHead);
        var time = DateTime.UtcNow;
        _record.ResetWrittenCount();
        AuditChain.WriteCheckpoint(covers + 1, time, _tenant, _replica, covers, coveredHead, mac, _record);
        head = AuditChain.WriteLine(_record.WrittenSpan, coveredHead, _batch);
        return new AuditCheckpoint(covers + 1, time, covers, coveredHead, mac);
    }

    private void WriteAndSync()
    {
        try
        {
            _stream.Write(_batch.WrittenSpan);
            // fsync(2) before anyone is told: after a failed one Linux may already have dropped the pages, so the
            // batch counts as not written and is cut off before the next write.
            _stream.Flush(flushToDisk: true);
        }
        catch
        {
            _mayHaveTornTail = true;
            throw;
        }
    }

    /// <summary>
    /// Records the chain's end in the state file right after a commit that ended with <paramref name="checkpoint"/>:
    /// the checkpoint line itself and its hash, so a start finds out if the file later lacks it.
    /// </summary>
    public void SaveState(AuditCheckpoint checkpoint) => new AuditState(Path, new AuditAnchor(Sequence, Head), checkpoint.Time).Write(_statePath);

    public void Dispose()
    {
        _stream.Dispose();
        _lock.Dispose();
    }
}
