using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using KeylessOrleans.Cluster.Diagnostics;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>
/// The tenant's audit log: one hash-chained record per key operation, refusals and failures included, and per
/// access-policy change (<see cref="AuditChain"/>), with keyed checkpoints shipped off the host.
/// <para>
/// No record, no output — durably: a key operation's output is released only once its record is written and
/// fsynced. Operations queue their records; one background writer takes everything queued (a group commit), writes
/// it with one write(2), fsyncs, and only then lets the waiting operations answer, so the disk's fsync rate bounds
/// batches, not operations. When the write or fsync fails, every operation of the batch is answered
/// <see cref="KeyOperationStatus.AuditFailed"/> without its output (edges fail over to another replica), the file is
/// cut back to its last committed line, and the next batch tries again: the log recovers by itself when the disk does.
/// A full queue (a disk slower than the load) withholds the same way after <see cref="AuditLogOptions.QueueFullWait"/>.
/// Every withheld operation is counted and logged.
/// </para>
/// <para>
/// Every <see cref="AuditLogOptions.CheckpointRecords"/> records or <see cref="AuditLogOptions.CheckpointInterval"/>
/// (and at a clean stop) the writer adds a checkpoint (an HMAC under the audit key over the sequence number and
/// head), records it in the state file and ships it (<see cref="AuditHeadShipper"/>).
/// </para>
/// <para>
/// The live file rotates by size and age (<see cref="AuditFile"/>); rotated files are compressed and retention applied
/// in the background, one pass at a time. Retention deletes oldest first and never a file whose last record no
/// shipped checkpoint covers, nor a file of an earlier chain: it logs a warning and keeps it (and every newer file).
/// </para>
/// </summary>
internal sealed partial class AuditLog : IAsyncDisposable, IDisposable
{
    /// <summary>Fields that come from the edge are cut to this length: a rogue edge cannot bloat the tenant's log.</summary>
    public const int MaxFieldLength = 256;

    /// <summary>A record's detail (a policy description) is cut to this length.</summary>
    public const int MaxDetailLength = 4096;

    private const int MaxBatch = 512;

    /// <summary>How often an idle writer looks after rotated files (compression, retention) that no rotation visits.</summary>
    private static readonly TimeSpan IdleMaintenance = TimeSpan.FromHours(1);

    /// <summary>A record and whom to tell once it is durable (null: nobody waits, e.g. a policy change).</summary>
    private readonly record struct Pending(AuditRecord Record, TaskCompletionSource<bool>? Durable);

    private readonly AuditLogOptions _settings;
    private readonly string _tenant;
    private readonly string _replica;
    private readonly AuditLogMetrics _metrics;
    private readonly ILogger<AuditLog> _logger;
    private readonly Channel<Pending>? _queue;
    private readonly AuditFile? _file;
    private readonly AuditHeadShipper? _shipper;
    private readonly Task _writer = Task.CompletedTask;
    private volatile bool _failing;
    private volatile bool _writerStopped;
    private bool _shipFailing;
    private readonly LogThrottle<string> _withheldLog;
    private readonly TimeProvider _time;
    private AuditCheckpoint? _lastHandled;
    private int _rotationsSeen;
    private long _bytesSeen;
    private int _maintaining; // 1 while a compression and retention pass runs
    private volatile bool _maintainAgain;
    private Task _maintenance = Task.CompletedTask;
    private readonly Dictionary<string, string?> _firstOperations = new(StringComparer.Ordinal); // used by one maintenance pass at a time

    public AuditLog(IOptions<KeyServerOptions> options, AuditLogMetrics metrics, ILogger<AuditLog> logger, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        var keyServer = options.Value;
        _settings = keyServer.AuditLog;
        _tenant = keyServer.Tenant;
        _replica = keyServer.Replica;
        _metrics = metrics;
        _logger = logger;
        // Per reason, the first withheld operation a second in full, then one line with the count: a failing disk
        // under load must not also flood the log.
        _withheldLog = new LogThrottle<string>(TimeSpan.FromSeconds(1), firstInFull: 1, maxKeys: 16, overflowKey: "other",
            (reason, count) => LogWithheldSummary(logger, count, reason), _time);
        if (!_settings.Enabled)
        {
            LogDisabled();
            return;
        }
        _file = AuditFile.Open(_settings, keyServer.Tenant, keyServer.Replica, _time, out var opening);
        if (opening.Problem is { } problem)
            LogNewChainReplacing(_file.Path, problem, opening.Replaces?.ToString() ?? "none", opening.MovedAside ?? "nowhere (there was no file)");
        else if (opening.NewChain) LogStarted(_file.Path);
        else if (opening.ContinuedFrom is { } from) LogContinuedFromRotated(_file.Path, from, opening.Continued);
        else LogContinued(_file.Path, opening.Continued, Convert.ToHexStringLower(opening.Head));
        _shipper = new AuditHeadShipper(_settings, keyServer.Tenant, keyServer.Replica);
        if (opening.NewChain || opening.ContinuedFrom is not null) Ship(_file.LastCheckpoint!);
        Maintain(); // what an earlier run left uncompressed or past retention
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_settings.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>
    /// Records an operation that ended with <paramref name="result"/> and returns what to answer once the record is
    /// on disk: the result itself, or — when the record could not be kept — <see cref="KeyOperationStatus.AuditFailed"/>
    /// instead of its output (a refusal stays the refusal it was). Only the SHA-256 of <paramref name="input"/> is
    /// kept; the output never. The edge recorded is <paramref name="edge"/>, else the one the access filter
    /// authenticated for this call, else the claimed id.
    /// </summary>
    public ValueTask<KeyOperationResult> RecordAsync(string operation, KeyRequestContext context, byte[] input, KeyOperationResult result, string? edge = null)
    {
        if (_queue is null) return ValueTask.FromResult(result);
        return KeepAsync(Record(operation, context, input, OutcomeNames.Of(result.Status), edge, detail: null), result);
    }

    /// <summary>
    /// An operation that threw: logs it as an error, records it (outcome <see cref="KeyOperationStatus.CryptoFailed"/>,
    /// the exception's type as detail; never its message, which might quote input) and returns the typed failure the
    /// edge gets.
    /// </summary>
    public ValueTask<KeyOperationResult> RecordFailureAsync(string operation, KeyRequestContext context, byte[] input, Exception exception)
    {
        LogOperationThrew(operation, context.Tenant, context.KeyId, exception);
        _metrics.OperationThrew(operation);
        var result = KeyOperationResult.Failure(KeyOperationStatus.CryptoFailed, $"{operation} failed on the key server ({exception.GetType().Name})");
        if (_queue is null) return ValueTask.FromResult(result);
        return KeepAsync(Record(operation, context, input, OutcomeNames.Of(result.Status), edge: null, detail: $"threw {exception.GetType().FullName}"), result);
    }

    /// <summary>
    /// Records something that happened to the key server rather than a key operation (<paramref name="operation"/>
    /// such as "policy_change"), with <paramref name="detail"/> in clear. Nobody waits on it; a record that cannot be
    /// kept is counted and logged like any other. Completes with whether it was written.
    /// </summary>
    public Task<bool> RecordEventAsync(string operation, string outcome, string detail)
    {
        if (_queue is null) return Task.FromResult(false);
        var record = new AuditRecord(0, _time.GetUtcNow().UtcDateTime, Cap(_tenant)!, _replica, "", "", operation, null, null,
            SHA256.HashData(Encoding.UTF8.GetBytes(detail)), outcome, Cap(detail, MaxDetailLength));
        return EventAsync(record);
    }

    private async Task<bool> EventAsync(AuditRecord record)
    {
        var problem = await WriteAsync(record);
        if (problem is not null) Withheld(problem, record);
        return problem is null;
    }

    private AuditRecord Record(string operation, KeyRequestContext context, byte[] input, string outcome, string? edge, string? detail)
    {
        edge ??= Access.KeyAccessFilter.AuthorizedEdge ?? context.EdgeId;
        return new AuditRecord(0, _time.GetUtcNow().UtcDateTime, Cap(context.Tenant)!, _replica, Cap(edge)!, Cap(context.KeyId)!, operation,
            Cap(context.ServerName), Cap(context.ClientAddress), SHA256.HashData(input), outcome, detail);
    }

    private async ValueTask<KeyOperationResult> KeepAsync(AuditRecord record, KeyOperationResult result)
    {
        var problem = await WriteAsync(record);
        if (problem is null) return result;
        Withheld(problem, record);
        return result.IsOk
            ? KeyOperationResult.Failure(KeyOperationStatus.AuditFailed, $"the key server's audit log could not keep the record ({problem}); output withheld")
            : result;
    }

    /// <summary>Queues the record and waits until it is durable: null then, else why it is not.</summary>
    private async ValueTask<string?> WriteAsync(AuditRecord record)
    {
        if (_writerStopped) return "writer_stopped";
        var durable = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = new Pending(record, durable);
        if (!_queue!.Writer.TryWrite(pending) && await WaitForRoomAsync(pending) is { } problem) return problem;
        return await durable.Task ? null : "write_failed";
    }

    private async ValueTask<string?> WaitForRoomAsync(Pending pending)
    {
        using var wait = new CancellationTokenSource(_settings.QueueFullWait);
        try
        {
            while (await _queue!.Writer.WaitToWriteAsync(wait.Token))
                if (_queue.Writer.TryWrite(pending)) return null;
            return "closed";
        }
        catch (OperationCanceledException)
        {
            return "queue_full";
        }
    }

    private void Withheld(string reason, AuditRecord record)
    {
        _metrics.Withheld(reason);
        if (_withheldLog.ShouldLog(reason)) LogWithheld(reason, record.Operation, record.KeyId, record.Edge);
    }

    /// <summary>
    /// At most <paramref name="max"/> characters, and valid UTF-16: a lone surrogate from a rogue edge would
    /// otherwise make the JSON writer throw on the writer's thread.
    /// </summary>
    private static string? Cap(string? value, int max = MaxFieldLength)
    {
        if (value is null) return null;
        if (value.Length > max) value = value[..max];
        if (value.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0) value = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(value));
        return value;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        try
        {
            await WriteQueuedAsync(batch);
        }
        catch (Exception e)
        {
            // A bug, not a disk error (those fail their batch and the next one tries again): refuse every operation
            // from now on rather than let each wait for a writer that is gone.
            _writerStopped = true;
            LogWriterFailed(e);
            foreach (var pending in batch) pending.Durable?.TrySetResult(false);
            while (_queue!.Reader.TryRead(out var pending)) pending.Durable?.TrySetResult(false);
        }
    }

    /// <summary>
    /// Group commit: takes everything queued (up to <see cref="MaxBatch"/>), writes and fsyncs it, then answers its
    /// operations. Adds a checkpoint when enough records or time have passed since the last one, and one at the end.
    /// </summary>
    private async Task WriteQueuedAsync(List<Pending> batch)
    {
        var file = _file!;
        var reader = _queue!.Reader;
        var checkpointDue = 0L; // Stopwatch timestamp by which the oldest uncovered record gets its checkpoint
        var idleFloor = TimeSpan.Zero; // after a failed idle rotation, the next try waits a second rather than spin
        while (true)
        {
            if (file.Uncovered == 0)
            {
                checkpointDue = 0;
                if (IdleWait(file) is not { } wait)
                {
                    if (!await reader.WaitToReadAsync()) break;
                }
                else if (!await MoreWithinAsync(reader, wait > idleFloor ? wait : idleFloor, _time))
                {
                    if (reader.Completion.IsCompleted) break;
                    // Idle: a live file that came of age rotates now (its rotation then looks after the rotated files),
                    // not at the next operation, which may be days away; otherwise rotated files are looked after.
                    if (file.RotationDueAt is { } due && due <= _time.GetUtcNow().UtcDateTime)
                        idleFloor = Commit(batch, checkpoint: false) ? TimeSpan.Zero : TimeSpan.FromSeconds(1);
                    else
                        Maintain();
                    continue;
                }
            }
            else
            {
                if (checkpointDue == 0) checkpointDue = Stopwatch.GetTimestamp() + (long)(_settings.CheckpointInterval.TotalSeconds * Stopwatch.Frequency);
                if (!await MoreWithinAsync(reader, Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), checkpointDue), TimeProvider.System))
                {
                    if (reader.Completion.IsCompleted) break;
                    // Idle and due: a checkpoint alone. If the disk fails, try again a second later, not in a spin.
                    if (!Commit(batch, checkpoint: true)) checkpointDue = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
                    continue;
                }
            }
            while (batch.Count < MaxBatch && reader.TryRead(out var pending)) batch.Add(pending);
            if (batch.Count == 0) continue;
            var checkpoint = file.Uncovered + batch.Count >= _settings.CheckpointRecords
                || (checkpointDue != 0 && Stopwatch.GetTimestamp() >= checkpointDue);
            Commit(batch, checkpoint);
        }
        if (file.Uncovered > 0) Commit(batch, checkpoint: true); // a clean stop leaves nothing uncovered
    }

    /// <summary>
    /// Null when nothing can fall due while idle; otherwise how long the writer may wait for a record: until the live
    /// file comes of age for rotation, and at most <see cref="IdleMaintenance"/>.
    /// </summary>
    private TimeSpan? IdleWait(AuditFile file)
    {
        if (file.RotationDueAt is { } due)
        {
            var untilDue = due - _time.GetUtcNow().UtcDateTime;
            return untilDue < IdleMaintenance ? untilDue : IdleMaintenance;
        }
        return _settings.Compress || _settings.Retains ? IdleMaintenance : null;
    }

    /// <summary>True when a record can be read within <paramref name="wait"/> of <paramref name="time"/>; false on timeout or when the queue is done.</summary>
    private static async Task<bool> MoreWithinAsync(ChannelReader<Pending> reader, TimeSpan wait, TimeProvider time)
    {
        if (reader.TryPeek(out _)) return true;
        if (wait <= TimeSpan.Zero) return false;
        using var timeout = new CancellationTokenSource(wait, time);
        try
        {
            return await reader.WaitToReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Writes and fsyncs the batch (and a checkpoint), then tells each waiting operation whether its record is durable (and returns that).</summary>
    private bool Commit(List<Pending> batch, bool checkpoint)
    {
        var file = _file!;
        var records = new AuditRecord[batch.Count];
        for (var i = 0; i < records.Length; i++) records[i] = batch[i].Record;
        bool durable;
        try
        {
            file.Commit(records, checkpoint);
            durable = true;
            _metrics.Written(records.Length);
            if (_failing) LogRecovered(file.Path);
            _failing = false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            durable = false;
            _metrics.WriteFailed();
            if (!_failing) LogWriteFailed(file.Path, e.Message);
            _failing = true;
        }
        foreach (var pending in batch) pending.Durable?.TrySetResult(durable);
        batch.Clear();
        // Counted even when the batch failed: a rotation before it may have written the next file's first lines.
        if (file.BytesWritten != _bytesSeen)
        {
            _metrics.BytesWritten(file.BytesWritten - _bytesSeen);
            _bytesSeen = file.BytesWritten;
        }
        var rotated = file.Rotations != _rotationsSeen;
        if (rotated)
        {
            _rotationsSeen = file.Rotations;
            _metrics.Rotated();
            LogRotated(file.Path, file.Sequence);
        }
        // A checkpoint written — by this batch, or by a rotation even if the batch then failed — goes to the state file
        // and is shipped; then retention, which goes by what was shipped, may look at the rotated files.
        if (file.Unsaved is { } written) SaveAndShip(file, written);
        if (rotated) Maintain();
        return durable;
    }

    private void SaveAndShip(AuditFile file, AuditCheckpoint written)
    {
        if (!ReferenceEquals(written, _lastHandled)) _metrics.Checkpointed();
        try
        {
            file.SaveState();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _metrics.WriteFailed();
            LogStateFailed(file.Path, e.Message);
        }
        if (!ReferenceEquals(written, _lastHandled)) Ship(written);
        _lastHandled = written;
    }

    /// <summary>Starts a compression and retention pass in the background, or asks the running one for another round.</summary>
    private void Maintain()
    {
        if (!_settings.Compress && !_settings.Retains) return;
        _maintainAgain = true;
        if (Interlocked.CompareExchange(ref _maintaining, 1, 0) != 0) return;
        _maintenance = Task.Run(() =>
        {
            try
            {
                while (_maintainAgain)
                {
                    _maintainAgain = false;
                    MaintainOnce();
                }
            }
            catch (Exception e)
            {
                LogMaintenanceFailed(_file!.Path, e);
            }
            finally
            {
                Volatile.Write(ref _maintaining, 0);
            }
        });
    }

    /// <summary>Compresses rotated files, then deletes the oldest ones retention allows (<see cref="AuditLogOptions.RetainFor"/>, <see cref="AuditLogOptions.RetainBytes"/>).</summary>
    private void MaintainOnce()
    {
        var live = _file!.Path;
        if (_settings.Compress)
        {
            foreach (var rotated in AuditLogFiles.Rotated(live).Where(f => !f.Compressed))
            {
                try
                {
                    var compressed = AuditLogFiles.Compress(rotated.Path);
                    LogCompressed(rotated.Path, rotated.Length, new FileInfo(compressed).Length);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _metrics.MaintenanceFailed();
                    LogCompressFailed(rotated.Path, e.Message);
                    break; // the next rotation tries again
                }
            }
        }
        if (!_settings.Retains) return;
        var files = AuditLogFiles.Rotated(live);
        if (files.Count == 0) return;
        var total = files.Sum(f => f.Length) + (File.Exists(live) ? new FileInfo(live).Length : 0);
        var now = _time.GetUtcNow().UtcDateTime;
        var shipped = _file.Shipped;
        var chainStart = CurrentChainStart(files);
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i];
            var expired = _settings.RetainFor > TimeSpan.Zero && now - file.Rotated > _settings.RetainFor;
            var over = _settings.RetainBytes > 0 && total > _settings.RetainBytes;
            if (!expired && !over) return;
            var why = expired ? $"older than {_settings.RetainFor}" : $"the log's files hold {total} bytes, more than {_settings.RetainBytes}";
            if (i < chainStart)
            {
                _metrics.RetentionKept();
                LogRetentionKept(file.Path, why, "it belongs to an earlier chain, whose heads this key server cannot tell were shipped");
                return;
            }
            if (file.LastSequence > shipped)
            {
                _metrics.RetentionKept();
                LogRetentionKept(file.Path, why, shipped == 0
                    ? "no checkpoint has been shipped off the host yet"
                    : $"its last record {file.LastSequence} is after the last checkpoint shipped off the host (record {shipped})");
                return;
            }
            try
            {
                File.Delete(file.Path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _metrics.MaintenanceFailed();
                LogRetentionFailed(file.Path, e.Message);
                return;
            }
            total -= file.Length;
            _firstOperations.Remove(file.Compressed ? file.Path[..^3] : file.Path);
            _metrics.Deleted();
            LogRetentionDeleted(file.Path, why, file.LastSequence);
        }
    }

    /// <summary>
    /// The index of the first rotated file of the current chain: the newest that begins with chain_start, walking back
    /// over continues lines. Rotated files never change, so each one's first operation is read once (by its name
    /// without .gz) and remembered.
    /// </summary>
    private int CurrentChainStart(List<AuditRotatedFile> files)
    {
        for (var i = files.Count - 1; i >= 0; i--)
        {
            var name = files[i].Compressed ? files[i].Path[..^3] : files[i].Path;
            if (!_firstOperations.TryGetValue(name, out var operation))
            {
                try
                {
                    operation = AuditLogFiles.FirstLine(files[i].Path)?.Operation;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    return i + 1;
                }
                _firstOperations[name] = operation;
            }
            if (operation != AuditChain.ContinuesOperation) return operation == AuditChain.ChainStartOperation ? i : i + 1;
        }
        return 0;
    }

    private void Ship(AuditCheckpoint checkpoint)
    {
        if (_shipper is not { Enabled: true }) return;
        try
        {
            _shipper.Ship(checkpoint);
            _file!.Shipped = Math.Max(_file.Shipped, checkpoint.Sequence);
            if (_shipFailing) LogShipRecovered(_file!.Path);
            _shipFailing = false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SocketException)
        {
            _metrics.ShipFailed();
            if (!_shipFailing) LogShipFailed(_file!.Path, checkpoint.Covers, e.Message);
            _shipFailing = true;
        }
    }

    /// <summary>Takes no more records and waits for the queued ones to be written, synced and checkpointed (or for <paramref name="cancellationToken"/>).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_queue is null || !_queue.Writer.TryComplete()) return;
        try
        {
            await _writer.WaitAsync(cancellationToken);
            LogStopped(_file!.Path, _file.Sequence);
        }
        catch (OperationCanceledException)
        {
            LogStopTimedOut(_file!.Path);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5))) await StopAsync(limit.Token);
        try
        {
            await _maintenance.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // a long compression: it finishes or is redone at the next start
        }
        if (_writer.IsCompleted) _file?.Dispose();
        _shipper?.Dispose();
        _withheldLog.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    [LoggerMessage(EventId = EventIds.AuditLogOff, Level = LogLevel.Warning, Message = "Audit log is off (Keyless:KeyServer:AuditLog:Enabled is false): key operations on this key server leave no audit record")]
    private partial void LogDisabled();

    [LoggerMessage(EventId = EventIds.AuditNewChain, Level = LogLevel.Information, Message = "Audit log {Path}: new chain")]
    private partial void LogStarted(string path);

    [LoggerMessage(EventId = EventIds.AuditChainContinued, Level = LogLevel.Information, Message = "Audit log {Path}: {Records} records verified, continuing after chain head {Head}")]
    private partial void LogContinued(string path, long records, string head);

    [LoggerMessage(EventId = EventIds.AuditNewChainReplacing, Level = LogLevel.Error, Message = "Audit log {Path}: a new chain starts although the previous one could not be continued: {Problem} Its first record names the chain it replaces ({Replaces}); the old file was moved to {MovedTo}")]
    private partial void LogNewChainReplacing(string path, string problem, string replaces, string movedTo);

    [LoggerMessage(EventId = EventIds.AuditWriteFailed, Level = LogLevel.Error, Message = "Audit log {Path} cannot be written or synced ({Problem}): key operations fail with AuditFailed and release no output until it can; every new batch tries again")]
    private partial void LogWriteFailed(string path, string problem);

    [LoggerMessage(EventId = EventIds.AuditWriteRecovered, Level = LogLevel.Warning, Message = "Audit log {Path} is written again")]
    private partial void LogRecovered(string path);

    [LoggerMessage(EventId = EventIds.AuditRecordsWithheld, Level = LogLevel.Error, Message = "An audit record was not kept ({Reason}), the key operation's output withheld: {Operation} on key {KeyId} from edge {Edge}; more are counted in one line a second")]
    private partial void LogWithheld(string reason, string operation, string keyId, string edge);

    [LoggerMessage(EventId = EventIds.AuditRecordsWithheldSummary, Level = LogLevel.Error, Message = "... and {Count} more audit records not kept ({Reason}) in the last second, their operations' output withheld")]
    private static partial void LogWithheldSummary(ILogger logger, long count, string reason);

    [LoggerMessage(EventId = EventIds.AuditStateWriteFailed, Level = LogLevel.Error, Message = "Audit log {Path}: the state file cannot be written ({Problem}); a start will not notice a tail cut off after the last saved checkpoint")]
    private partial void LogStateFailed(string path, string problem);

    [LoggerMessage(EventId = EventIds.AuditLogClosed, Level = LogLevel.Information, Message = "Audit log {Path} closed after record {Sequence}")]
    private partial void LogStopped(string path, long sequence);

    [LoggerMessage(EventId = EventIds.AuditStopTimedOut, Level = LogLevel.Critical, Message = "Audit log {Path}: the writer did not finish within the stop deadline; records still queued were not written (their operations released no output)")]
    private partial void LogStopTimedOut(string path);

    [LoggerMessage(EventId = EventIds.AuditWriterStopped, Level = LogLevel.Critical, Message = "Audit log writer stopped: every key operation is withheld until the key server restarts")]
    private partial void LogWriterFailed(Exception exception);

    [LoggerMessage(EventId = EventIds.AuditShipFailed, Level = LogLevel.Error, Message = "Audit log {Path}: checkpoint of record {Sequence} could not be shipped ({Problem}); later checkpoints are tried as they come")]
    private partial void LogShipFailed(string path, long sequence, string problem);

    [LoggerMessage(EventId = EventIds.AuditShipRecovered, Level = LogLevel.Warning, Message = "Audit log {Path}: checkpoints are shipped again")]
    private partial void LogShipRecovered(string path);

    [LoggerMessage(EventId = EventIds.AuditRotated, Level = LogLevel.Information, Message = "Audit log {Path} rotated after record {Sequence}; the chain continues in a new file")]
    private partial void LogRotated(string path, long sequence);

    [LoggerMessage(EventId = EventIds.AuditCompressed, Level = LogLevel.Information, Message = "Audit log {Path}: compressed ({Before} → {After} bytes)")]
    private partial void LogCompressed(string path, long before, long after);

    [LoggerMessage(EventId = EventIds.AuditCompressFailed, Level = LogLevel.Warning, Message = "Audit log {Path} could not be compressed ({Problem}); kept as it is, tried again at the next rotation")]
    private partial void LogCompressFailed(string path, string problem);

    [LoggerMessage(EventId = EventIds.AuditRetentionDeleted, Level = LogLevel.Information, Message = "Audit log {Path} deleted by retention ({Why}); its last record {Sequence} is covered by a shipped checkpoint")]
    private partial void LogRetentionDeleted(string path, string why, long sequence);

    [LoggerMessage(EventId = EventIds.AuditRetentionKept, Level = LogLevel.Warning, Message = "Audit log {Path} is kept although retention would delete it ({Why}): {Reason}; newer files are kept too")]
    private partial void LogRetentionKept(string path, string why, string reason);

    [LoggerMessage(EventId = EventIds.AuditRetentionFailed, Level = LogLevel.Error, Message = "Audit log {Path} could not be deleted by retention ({Problem})")]
    private partial void LogRetentionFailed(string path, string problem);

    [LoggerMessage(EventId = EventIds.AuditMaintenanceFailed, Level = LogLevel.Error, Message = "Audit log {Path}: compression and retention pass failed")]
    private partial void LogMaintenanceFailed(string path, Exception exception);

    [LoggerMessage(EventId = EventIds.AuditContinuedAfterMissingFile, Level = LogLevel.Warning, Message = "Audit log {Path} was missing: a rotation stopped before its new file; a new file continues the chain of {From} after record {Sequence}")]
    private partial void LogContinuedFromRotated(string path, string from, long sequence);

    [LoggerMessage(EventId = EventIds.AuditOperationThrew, Level = LogLevel.Error, Message = "{Operation} on {Tenant} key {KeyId} threw: recorded as a failure, the edge gets CryptoFailed")]
    private partial void LogOperationThrew(string operation, string tenant, string keyId, Exception exception);
}
