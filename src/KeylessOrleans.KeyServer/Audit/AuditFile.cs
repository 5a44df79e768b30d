using System.Buffers;
using System.Globalization;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>
/// The open audit log file and its chain head. Opening takes an exclusive lock (<c>&lt;path&gt;.lock</c>: a second
/// process on the same file would interleave two chains), verifies every existing line and continues after the last.
/// Only one thread uses an instance: the audit log's writer.
/// </summary>
internal sealed class AuditFile : IDisposable
{

    private readonly FileStream _lock;
    private readonly FileStream _stream;
    private readonly ArrayBufferWriter<byte> _batch = new(64 * 1024);
    private readonly ArrayBufferWriter<byte> _record = new(1024);
    private long _length;
    private bool _mayHaveTornTail;

    private AuditFile(string path, FileStream @lock, FileStream stream, AuditVerification existing)
    {
        Path = path;
        _lock = @lock;
        _stream = stream;
        Sequence = existing.Records;
        Head = existing.Head;
        _length = existing.ValidLength;
    }

    public string Path { get; }

    /// <summary>The last record's sequence number (0 for an empty file).</summary>
    public long Sequence { get; private set; }

    /// <summary>The last record's hash (the genesis value for an empty file).</summary>
    public byte[] Head { get; private set; }

    /// <summary>Opens or creates (mode 0600) <paramref name="path"/>; throws <see cref="InvalidDataException"/> with the reason when it cannot continue it.</summary>
    /// <param name="movedAside">Where a broken file went under <see cref="AuditLogRecovery.MoveAside"/>, with where it broke.</param>
    public static AuditFile Open(string path, AuditLogRecovery ifBroken, out (string File, AuditBreak Break)? movedAside)
    {
        movedAside = null;
        var @lock = Lock(path);
        try
        {
            var existing = File.Exists(path) ? Verify(path) : Empty;
            if (existing.Break is { } broken)
            {
                if (ifBroken == AuditLogRecovery.Refuse)
                    throw new InvalidDataException(
                        $"audit log {path} is broken at record {broken.Record} (line {broken.Line}): {broken.Reason}. " +
                        "The key server does not append to a broken chain: keep the file as evidence and move it aside (a new chain starts), " +
                        $"or set Keyless:KeyServer:AuditLog:IfBroken to {AuditLogRecovery.MoveAside}.");
                var aside = $"{path}.broken-{DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}";
                try
                {
                    File.Move(path, aside);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new InvalidDataException($"audit log {path} is broken at record {broken.Record} and cannot be moved aside: {e.Message}", e);
                }
                movedAside = (aside, broken);
                existing = Empty;
            }
            var stream = OpenForAppending(path);
            if (stream.Length != existing.ValidLength)
            {
                stream.Dispose();
                throw new InvalidDataException($"audit log {path} changed while it was being verified; is another program writing it?");
            }
            stream.Position = existing.ValidLength;
            return new AuditFile(path, @lock, stream, existing);
        }
        catch
        {
            @lock.Dispose();
            throw;
        }
    }

    private static readonly AuditVerification Empty = new(0, null, null, AuditChain.Genesis, 0, null);

    private static AuditVerification Verify(string path)
    {
        try
        {
            return AuditLogVerifier.VerifyFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"audit log {path} cannot be read to verify it: {e.Message}", e);
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

    /// <summary>
    /// Chains <paramref name="records"/> after the head and writes them with one write(2). Numbers them from
    /// <see cref="Sequence"/> + 1. On failure the head is unchanged and the next call first cuts the file back to its
    /// last whole record, so the same records can simply be tried again.
    /// </summary>
    public void Append(IReadOnlyList<AuditRecord> records)
    {
        if (_mayHaveTornTail)
        {
            // A failed write may have left part of a batch behind: cut back to the last whole record first.
            _stream.SetLength(_length);
            _stream.Position = _length;
            _mayHaveTornTail = false;
        }
        _batch.ResetWrittenCount();
        var head = Head;
        for (var i = 0; i < records.Count; i++)
        {
            _record.ResetWrittenCount();
            AuditChain.WriteRecord(records[i] with { Sequence = Sequence + i + 1 }, _record);
            head = AuditChain.WriteLine(_record.WrittenSpan, head, _batch);
        }
        try
        {
            _stream.Write(_batch.WrittenSpan);
        }
        catch
        {
            _mayHaveTornTail = true;
            throw;
        }
        _length += _batch.WrittenCount;
        Sequence += records.Count;
        Head = head;
    }

    /// <summary>fsync(2): what was written survives a power loss.</summary>
    public void Sync() => _stream.Flush(flushToDisk: true);

    public void Dispose()
    {
        _stream.Dispose();
        _lock.Dispose();
    }
}
