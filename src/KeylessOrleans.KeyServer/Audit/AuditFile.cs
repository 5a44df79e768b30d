using System.Buffers;
using System.Globalization;
using KeylessOrleans.Cluster.Storage;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>How <see cref="AuditFile.Open"/> found the log: continued, or a new chain (and then why, and what it replaces).</summary>
/// <param name="Problem">Why the existing file could not be continued, or null (a first start, or a continued chain).</param>
/// <param name="MovedAside">Where the file that could not be continued went.</param>
internal sealed record AuditOpening(bool NewChain, string? Problem, AuditAnchor? Replaces, string? MovedAside, long Continued, byte[] Head)
{
    /// <summary>The rotated file a new live file was started after (the live file was missing: a crash between rotation's steps).</summary>
    public string? ContinuedFrom { get; init; }
}

/// <summary>
/// The open audit log file, its chain head and its key. Opening takes an exclusive lock (<c>&lt;path&gt;.lock</c>: a
/// second process on the same file would interleave two chains), verifies every existing line (checkpoints with the
/// key), checks the file still holds the record the state file (<see cref="AuditState"/>) last saw, and continues
/// after the last line — or starts a new chain, whose first line (chain_start) names the chain it replaces.
/// <para>
/// Rotation (<see cref="AuditLogOptions.RotateBytes"/>, <see cref="AuditLogOptions.RotateInterval"/>), before a batch:
/// a checkpoint closes the live file, it is renamed to its rotated name (<see cref="AuditLogFiles"/>), and a new file
/// — written beside as <c>.new</c>, fsynced and renamed, so the live path never holds a half-written start — begins
/// with a continues line (the previous file's last record and hash, that hash as its prev) and a checkpoint. A crash
/// between the rename and the new file leaves no live file: the next start continues from the newest rotated file.
/// </para>
/// Only one thread uses an instance: the audit log's writer.
/// </summary>
internal sealed class AuditFile : IDisposable
{
    private readonly FileStream _lock;
    private readonly AuditLogOptions _settings;
    private readonly TimeProvider _time;
    private FileStream? _stream; // null between closing a rotated file and opening the next
    private bool _moveNeeded; // the closed live file is still to be renamed to its rotated name
    private string? _previousFile;
    private DateTime _fileStarted;
    private long _fileFirstSequence;
    private (AuditCheckpoint Checkpoint, AuditAnchor Line)? _unsaved;
    private readonly byte[] _key;
    private readonly string _statePath;
    private readonly string _tenant;
    private readonly string _replica;
    private readonly ArrayBufferWriter<byte> _batch = new(64 * 1024);
    private readonly ArrayBufferWriter<byte> _record = new(1024);
    private long _length;
    private bool _mayHaveTornTail;

    private AuditFile(string path, FileStream @lock, FileStream? stream, byte[] key, string statePath, string tenant, string replica, AuditVerification existing,
        AuditLogOptions settings, TimeProvider time)
    {
        Path = path;
        _settings = settings;
        _time = time;
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
        _fileStarted = existing.First ?? time.GetUtcNow().UtcDateTime;
        _fileFirstSequence = existing.FirstSequence;
    }

    public string Path { get; }

    /// <summary>The last line's sequence number (0 for an empty file).</summary>
    public long Sequence { get; private set; }

    /// <summary>The last line's hash (the genesis value for an empty file).</summary>
    public byte[] Head { get; private set; }

    public AuditCheckpoint? LastCheckpoint { get; private set; }

    /// <summary>Files rotated away from since opening: the writer's cue to compress and apply retention.</summary>
    public int Rotations { get; private set; }

    /// <summary>Bytes written and fsynced since opening, in every file (records, checkpoints, chain lines), before compression.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>The sequence number of the last checkpoint line shipped to every destination (kept in the state file).</summary>
    public long Shipped { get; set; }

    /// <summary>Lines after the last checkpoint.</summary>
    public long Uncovered => Sequence - (LastCheckpoint?.Sequence ?? 0);

    private static readonly AuditVerification Empty = new(0, null, null, AuditChain.Genesis, 0, null);

    /// <summary>Opens or creates (mode 0600) the log; throws <see cref="InvalidDataException"/> with the reason when it may not continue it.</summary>
    public static AuditFile Open(AuditLogOptions settings, string tenant, string replica, TimeProvider time, out AuditOpening opening)
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
            var existing = hasContent ? Verify([path], key, state?.Last) : Empty;
            if (existing.Anchor == AuditAnchorStatus.Earlier)
            {
                // The state names a record of a rotated file (the state was not saved after the rotation): walk the
                // files from there. The live file's own values stay those of its walk alone.
                var whole = Verify(AuditLogFiles.Chain(path), key, state!.Last);
                existing = existing with { Anchor = whole.IsIntact ? whole.Anchor : AuditAnchorStatus.Mismatch };
            }
            AuditVerification? previous = null; // the newest rotated file, when the live one is missing and that one may be continued
            if (!hasContent && AuditLogFiles.Rotated(path) is [.., var newest])
            {
                var last = Verify([newest.Path], key, state?.Last);
                if (last.IsIntact && last.Records > 0 && (state is null || last.Anchor == AuditAnchorStatus.Met) && (key is not null || last.Checkpoints == 0))
                    (previous, existing) = (last with { Anchor = AuditAnchorStatus.Met }, Empty with { Anchor = AuditAnchorStatus.Met });
            }

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
            else if (state is not null && existing.Anchor != AuditAnchorStatus.Met && previous is null)
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
            FileStream? stream = null;
            if (previous is null)
            {
                stream = OpenForAppending(path);
                if (stream.Length != existing.ValidLength)
                {
                    stream.Dispose();
                    throw new InvalidDataException($"audit log {path} changed while it was being verified; is another program writing it?");
                }
                stream.Position = existing.ValidLength;
            }
            else
            {
                existing = previous with { ValidLength = 0 };
            }
            var file = new AuditFile(path, @lock, stream, key, statePath, tenant, replica, existing, settings, time)
            {
                Shipped = problem is null ? state?.Shipped ?? 0 : 0,
            };
            if (previous is not null)
            {
                try
                {
                    file._previousFile = System.IO.Path.GetFileName(AuditLogFiles.Rotated(path)[^1].Path);
                    file.OpenNextFile();
                    file.SaveUnsaved();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new InvalidDataException($"audit log {path}: the file continuing {file._previousFile} cannot be written: {e.Message}", e);
                }
            }
            else if (existing.Records == 0)
            {
                try
                {
                    file.StartChain(replaces, problem ?? "new audit log");
                    file.SaveUnsaved();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    file._stream?.Dispose();
                    throw new InvalidDataException($"audit log {path}: the new chain's first records cannot be written: {e.Message}", e);
                }
            }
            opening = new AuditOpening(existing.Records == 0, problem, replaces, movedAside, existing.Records, file.Head);
            if (previous is not null) opening = opening with { ContinuedFrom = file._previousFile };
            return file;
        }
        catch
        {
            @lock.Dispose();
            throw;
        }
    }

    private static AuditVerification Verify(IReadOnlyList<string> paths, byte[]? key, AuditAnchor? anchor)
    {
        try
        {
            return AuditLogVerifier.VerifyFiles(paths, key, anchor);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new InvalidDataException($"audit log {string.Join(", ", paths)} cannot be read to verify it: {e.Message}", e);
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

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    /// <summary>The first lines of a new chain: chain_start, then a checkpoint over it, written and fsynced.</summary>
    private void StartChain(AuditAnchor? replaces, string reason)
    {
        _record.ResetWrittenCount();
        AuditChain.WriteChainStart(Now, _tenant, _replica, replaces, reason, _record);
        _batch.ResetWrittenCount();
        var head = AuditChain.WriteLine(_record.WrittenSpan, AuditChain.Genesis, _batch);
        var checkpoint = AppendCheckpoint(1, head, out head);
        WriteAndSync();
        _length += _batch.WrittenCount;
        (Sequence, Head, LastCheckpoint) = (2, head, checkpoint);
        (_fileStarted, _fileFirstSequence) = (Now, 1);
        _unsaved = (checkpoint, new AuditAnchor(Sequence, Head));
    }

    /// <summary>
    /// When the live file comes of age for rotation if no record arrives before, or null when age never rotates it
    /// (age rotation off, a rotation halfway done, or nothing in the file but its own first lines).
    /// </summary>
    public DateTime? RotationDueAt =>
        _stream is not null && Sequence > _fileFirstSequence + 1 && _settings.RotateInterval > TimeSpan.Zero
            ? _fileStarted + _settings.RotateInterval
            : null;

    /// <summary>Due for rotation: big or old enough, and holding more than its own first two lines.</summary>
    private bool RotationDue() =>
        Sequence > _fileFirstSequence + 1
        && ((_settings.RotateBytes > 0 && _length >= _settings.RotateBytes)
            || (_settings.RotateInterval > TimeSpan.Zero && Now - _fileStarted >= _settings.RotateInterval));

    /// <summary>Closes the live file with a checkpoint and moves on to the next (<see cref="OpenNextFile"/>).</summary>
    private void Rotate()
    {
        if (Uncovered > 0)
        {
            _batch.ResetWrittenCount();
            var checkpoint = AppendCheckpoint(Sequence, Head, out var head);
            WriteAndSync();
            _length += _batch.WrittenCount;
            (Sequence, Head, LastCheckpoint) = (Sequence + 1, head, checkpoint);
            _unsaved = (checkpoint, new AuditAnchor(Sequence, Head));
        }
        _stream!.Dispose();
        _stream = null;
        _moveNeeded = true;
        OpenNextFile();
    }

    /// <summary>
    /// Renames the closed live file (when that is still to do) and writes the next one: continues line and checkpoint,
    /// into <c>&lt;path&gt;.new</c>, fsynced, renamed to the live path. Any step may fail (a full disk); the next batch
    /// takes it up where it stopped.
    /// </summary>
    private void OpenNextFile()
    {
        var now = Now;
        if (_moveNeeded)
        {
            var rotated = AuditLogFiles.RotatedPath(Path, now, Sequence);
            File.Move(Path, rotated);
            _moveNeeded = false;
            _previousFile = System.IO.Path.GetFileName(rotated);
            Rotations++;
            DirectorySync.Flush(Folder); // the rename survives a power loss before the state names the next file
        }
        _record.ResetWrittenCount();
        AuditChain.WriteContinues(now, _tenant, _replica, new AuditAnchor(Sequence, Head), _previousFile ?? "", _record);
        _batch.ResetWrittenCount();
        var head = AuditChain.WriteLine(_record.WrittenSpan, Head, _batch);
        var checkpoint = AppendCheckpoint(Sequence + 1, head, out head);
        var next = Path + ".new";
        var stream = new FileStream(next, OwnerOnly(new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            BufferSize = 0,
        }));
        try
        {
            stream.Write(_batch.WrittenSpan);
            stream.Flush(flushToDisk: true);
            BytesWritten += _batch.WrittenCount;
            File.Move(next, Path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        _stream = stream; // still the same open file, now under the live name
        _stream.Position = _batch.WrittenCount;
        _length = _batch.WrittenCount;
        _fileFirstSequence = Sequence + 1;
        _fileStarted = now;
        (Sequence, Head, LastCheckpoint) = (Sequence + 2, head, checkpoint);
        _unsaved = (checkpoint, new AuditAnchor(Sequence, Head));
        DirectorySync.Flush(Folder); // after the new file is in place: a failure here fails the batch, not the file
    }

    private string Folder => System.IO.Path.GetDirectoryName(Path)!;

    /// <summary>
    /// Chains <paramref name="records"/> after the head — and a checkpoint after them when <paramref name="checkpoint"/>
    /// and anything is uncovered — writes them with one write(2) and fsyncs: when this returns they survive a power
    /// loss. Numbers them from <see cref="Sequence"/> + 1. On failure the head is unchanged and the next call first
    /// cuts the file back to its last committed line, so no record of a failed call stays in the file.
    /// </summary>
    /// <returns>The checkpoint written, or null.</returns>
    public AuditCheckpoint? Commit(IReadOnlyList<AuditRecord> records, bool checkpoint)
    {
        if (_stream is null)
        {
            OpenNextFile(); // a rotation that stopped halfway
        }
        else if (_mayHaveTornTail)
        {
            // A failed write or fsync may have left part of a batch behind: cut back to the last committed line first.
            _stream.SetLength(_length);
            _stream.Position = _length;
            _mayHaveTornTail = false;
        }
        if (_stream is not null && !_mayHaveTornTail && RotationDue()) Rotate();
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
        if (written is not null)
        {
            LastCheckpoint = written;
            _unsaved = (written, new AuditAnchor(Sequence, Head));
        }
        return written;
    }

    private AuditCheckpoint AppendCheckpoint(long covers, byte[] coveredHead, out byte[] head)
    {
        var mac = AuditChain.CheckpointMac(_key, covers, coveredHead);
        var time = Now;
        _record.ResetWrittenCount();
        AuditChain.WriteCheckpoint(covers + 1, time, _tenant, _replica, covers, coveredHead, mac, _record);
        head = AuditChain.WriteLine(_record.WrittenSpan, coveredHead, _batch);
        return new AuditCheckpoint(covers + 1, time, covers, coveredHead, mac);
    }

    private void WriteAndSync()
    {
        try
        {
            _stream!.Write(_batch.WrittenSpan);
            // fsync(2) before anyone is told: after a failed one Linux may already have dropped the pages, so the
            // batch counts as not written and is cut off before the next write.
            _stream.Flush(flushToDisk: true);
            BytesWritten += _batch.WrittenCount;
        }
        catch
        {
            _mayHaveTornTail = true;
            throw;
        }
    }

    /// <summary>
    /// The newest checkpoint written (by a batch or a rotation) whose line is not yet in the state file, or null; the
    /// writer saves it (<see cref="SaveState"/>) and ships it.
    /// </summary>
    public AuditCheckpoint? Unsaved => _unsaved?.Checkpoint;

    /// <summary>
    /// Records the newest checkpoint line and its hash in the state file, so a start finds out if the file later lacks it.
    /// </summary>
    public void SaveState()
    {
        if (_unsaved is not { } unsaved) return;
        new AuditState(Path, unsaved.Line, unsaved.Checkpoint.Time, Shipped).Write(_statePath);
        _unsaved = null;
    }

    private void SaveUnsaved() => SaveState();

    public void Dispose()
    {
        _stream?.Dispose();
        _lock.Dispose();
    }
}
