using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Audit;

/// <summary>
/// The tenant's audit log: one hash-chained record per key operation, refusals included (<see cref="AuditChain"/>).
/// A key operation only queues its record; one background writer batches, writes and fsyncs, so the file's speed
/// is not on the operation's path.
/// <para>
/// Durability window: the writer writes a record as soon as it gets to it (normally within a millisecond), after
/// which a crash of the process no longer loses it; it is on disk (fsync) within <see cref="AuditLogOptions.SyncInterval"/>
/// (100 ms) or <see cref="AuditLogOptions.SyncRecords"/> (1000) records, whichever comes first — what a power loss
/// can take.
/// </para>
/// <para>
/// No record, no output: when the queue is full the operation waits up to <see cref="AuditLogOptions.QueueFullWait"/>
/// (100 ms) for room, and when there is none — or the file is failing — its signature or premaster is withheld and
/// the edge gets <see cref="KeyOperationStatus.Unavailable"/>, which sends it to another replica. Answering without a
/// record would be a silent gap in a bank's audit trail; a key server whose disk cannot keep up stops serving
/// instead, which edges' failover absorbs. Every withheld operation is counted and logged.
/// </para>
/// </summary>
public sealed partial class AuditLog : IAsyncDisposable, IDisposable
{
    /// <summary>Fields that come from the edge are cut to this length: a rogue edge cannot bloat the tenant's log.</summary>
    public const int MaxFieldLength = 256;

    private const int MaxBatch = 256;
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly AuditLogOptions _settings;
    private readonly string _replica;
    private readonly AuditLogMetrics _metrics;
    private readonly ILogger<AuditLog> _logger;
    private readonly Channel<AuditRecord>? _queue;
    private readonly AuditFile? _file;
    private readonly Task _writer = Task.CompletedTask;
    private readonly CancellationTokenSource _giveUp = new();
    private volatile bool _failing;
    private long _lastWithheldLog; // Environment.TickCount64 of the last warning, 0 before the first
    private int _withheldSinceLog;

    public AuditLog(IOptions<KeyServerOptions> options, AuditLogMetrics metrics, ILogger<AuditLog> logger)
    {
        var keyServer = options.Value;
        _settings = keyServer.AuditLog;
        _replica = keyServer.Replica;
        _metrics = metrics;
        _logger = logger;
        if (!_settings.Enabled)
        {
            LogDisabled();
            return;
        }
        _file = AuditFile.Open(_settings.ResolvePath(keyServer.Tenant, keyServer.Replica), _settings.IfBroken, out var movedAside);
        if (movedAside is { } moved) LogMovedAside(_file.Path, moved.Break.Record, moved.Break.Line, moved.Break.Reason, moved.File);
        if (_file.Sequence == 0) LogStarted(_file.Path);
        else LogContinued(_file.Path, _file.Sequence, Convert.ToHexStringLower(_file.Head));
        _queue = Channel.CreateBounded<AuditRecord>(new BoundedChannelOptions(_settings.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Where the log is, or null when it is off.</summary>
    public string? FilePath => _file?.Path;

    /// <summary>
    /// Queues the record of an operation that ended with <paramref name="result"/>, and returns what to answer: the
    /// result itself, or — when no record could be queued — <see cref="KeyOperationStatus.Unavailable"/> instead of
    /// its output. Only the SHA-256 of <paramref name="input"/> is kept; the output never. The edge recorded is
    /// <paramref name="edge"/>, else the one the access filter authenticated for this call, else the claimed id.
    /// </summary>
    public ValueTask<KeyOperationResult> RecordAsync(string operation, KeyRequestContext context, byte[] input, KeyOperationResult result, string? edge = null)
    {
        if (_queue is null) return ValueTask.FromResult(result);
        edge ??= Access.KeyAccessFilter.AuthorizedEdge ?? context.EdgeId;
        var record = new AuditRecord(0, DateTime.UtcNow, Cap(context.Tenant)!, _replica, Cap(edge)!, Cap(context.KeyId)!, operation,
            Cap(context.ServerName), Cap(context.ClientAddress), Convert.ToHexStringLower(SHA256.HashData(input)), result.Status.ToString());
        if (!_failing && _queue.Writer.TryWrite(record)) return ValueTask.FromResult(result);
        return WaitForRoomAsync(_queue, record, result);
    }

    private async ValueTask<KeyOperationResult> WaitForRoomAsync(Channel<AuditRecord> queue, AuditRecord record, KeyOperationResult result)
    {
        string reason;
        if (_failing)
        {
            reason = "write_failing";
        }
        else
        {
            using var wait = new CancellationTokenSource(_settings.QueueFullWait);
            try
            {
                while (await queue.Writer.WaitToWriteAsync(wait.Token))
                    if (queue.Writer.TryWrite(record)) return result;
                reason = "closed";
            }
            catch (OperationCanceledException)
            {
                reason = "queue_full";
            }
        }
        _metrics.Withheld(reason);
        Interlocked.Increment(ref _withheldSinceLog);
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastWithheldLog);
        if ((last == 0 || now - last >= 1000) && Interlocked.CompareExchange(ref _lastWithheldLog, now, last) == last)
            LogWithheld(Interlocked.Exchange(ref _withheldSinceLog, 0), reason, record.Operation, record.KeyId, record.Edge);
        return result.IsOk
            ? KeyOperationResult.Failure(KeyOperationStatus.Unavailable, $"the key server's audit log cannot take the record ({reason}); output withheld")
            : result;
    }

    /// <summary>
    /// At most <see cref="MaxFieldLength"/> characters, and valid UTF-16: a lone surrogate from a rogue edge would
    /// otherwise make the JSON writer throw on the writer's thread.
    /// </summary>
    private static string? Cap(string? value)
    {
        if (value is null) return null;
        if (value.Length > MaxFieldLength) value = value[..MaxFieldLength];
        if (value.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0) value = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(value));
        return value;
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await WriteQueuedAsync();
        }
        catch (Exception e)
        {
            // A bug, not a disk error (those are retried): refuse every operation from now on rather than let the
            // queue fill and each one wait QueueFullWait first.
            _failing = true;
            LogWriterFailed(e);
        }
    }

    /// <summary>Writes what is queued in batches; fsyncs when the oldest unsynced record is SyncInterval old or SyncRecords are unsynced.</summary>
    private async Task WriteQueuedAsync()
    {
        var reader = _queue!.Reader;
        var batch = new List<AuditRecord>(MaxBatch);
        var unsynced = 0;
        var syncDue = 0L;
        while (true)
        {
            if (unsynced == 0)
            {
                if (!await reader.WaitToReadAsync()) break;
            }
            else
            {
                if (!await MoreWithinAsync(reader, Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), syncDue)))
                {
                    Sync();
                    unsynced = 0;
                    if (reader.Completion.IsCompleted) break;
                    continue;
                }
            }
            while (batch.Count < MaxBatch && reader.TryRead(out var record)) batch.Add(record);
            if (batch.Count == 0) continue;
            if (!await AppendAsync(batch)) break;
            if (unsynced == 0) syncDue = Stopwatch.GetTimestamp() + (long)(_settings.SyncInterval.TotalSeconds * Stopwatch.Frequency);
            unsynced += batch.Count;
            batch.Clear();
            if (unsynced >= _settings.SyncRecords || Stopwatch.GetTimestamp() >= syncDue)
            {
                Sync();
                unsynced = 0;
            }
        }
        if (unsynced > 0) Sync();
    }

    /// <summary>True when a record can be read within <paramref name="wait"/>; false on timeout or when the queue is done.</summary>
    private static async Task<bool> MoreWithinAsync(ChannelReader<AuditRecord> reader, TimeSpan wait)
    {
        if (reader.TryPeek(out _)) return true;
        if (wait <= TimeSpan.Zero) return false;
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            return await reader.WaitToReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Writes the batch, retrying every second while the file fails; false when told to give up (shutdown).</summary>
    private async Task<bool> AppendAsync(List<AuditRecord> batch)
    {
        var file = _file!;
        while (true)
        {
            try
            {
                file.Append(batch);
                _metrics.Written(batch.Count);
                if (_failing) LogRecovered(file.Path);
                _failing = false;
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _metrics.WriteFailed();
                if (!_failing) LogWriteFailed(file.Path, e.Message);
                _failing = true;
            }
            try
            {
                await Task.Delay(RetryDelay, _giveUp.Token);
            }
            catch (OperationCanceledException)
            {
                var lost = batch.Count + _queue!.Reader.Count;
                _metrics.Lost(lost);
                LogLost(file.Path, lost);
                return false;
            }
        }
    }

    private void Sync()
    {
        try
        {
            _file!.Sync();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not retried: after a failed fsync Linux may already have dropped the pages, and a later fsync would
            // not say so. The records are in the file unless the host goes down; the operator has to look.
            _metrics.WriteFailed();
            LogSyncFailed(_file!.Path, e.Message);
        }
    }

    /// <summary>
    /// Takes no more records and waits for the queued ones to be written and synced. If the file is failing, gives up
    /// when <paramref name="cancellationToken"/> fires, counting what is lost.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_queue is null || !_queue.Writer.TryComplete()) return;
        try
        {
            await _writer.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await _giveUp.CancelAsync();
            await _writer;
        }
        LogStopped(_file!.Path, _file.Sequence);
    }

    public async ValueTask DisposeAsync()
    {
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5))) await StopAsync(limit.Token);
        _file?.Dispose();
        _giveUp.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Audit log is off (Keyless:KeyServer:AuditLog:Enabled is false): key operations on this key server leave no audit record")]
    private partial void LogDisabled();

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Audit log {Path}: new chain")]
    private partial void LogStarted(string path);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "Audit log {Path}: {Records} records verified, continuing after chain head {Head}")]
    private partial void LogContinued(string path, long records, string head);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Error, Message = "Audit log {Path} was broken at record {Record} (line {Line}): {Reason}. Moved to {MovedTo} (IfBroken=MoveAside); a new chain starts")]
    private partial void LogMovedAside(string path, long record, long line, string reason, string movedTo);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Error, Message = "Audit log {Path} cannot be written ({Problem}): key operations are withheld until it can; retrying every second")]
    private partial void LogWriteFailed(string path, string problem);

    [LoggerMessage(EventId = 1210, Level = LogLevel.Critical, Message = "Audit log {Path}: fsync failed ({Problem}); records written since the last good fsync may not survive a power loss")]
    private partial void LogSyncFailed(string path, string problem);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Warning, Message = "Audit log {Path} is written again")]
    private partial void LogRecovered(string path);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Warning, Message = "{Count} key operation(s) withheld in the last second: no audit record could be queued ({Reason}); latest {Operation} on key {KeyId} from edge {Edge}")]
    private partial void LogWithheld(int count, string reason, string operation, string keyId, string edge);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Critical, Message = "Audit log {Path}: {Count} queued records were never written (the file kept failing until shutdown)")]
    private partial void LogLost(string path, int count);

    [LoggerMessage(EventId = 1211, Level = LogLevel.Critical, Message = "Audit log writer stopped: every key operation is withheld until the key server restarts")]
    private partial void LogWriterFailed(Exception exception);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Information, Message = "Audit log {Path} closed after record {Sequence}")]
    private partial void LogStopped(string path, long sequence);
}
