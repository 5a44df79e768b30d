using System.Diagnostics.Metrics;

namespace KeylessOrleans.KeyServer.Diagnostics;

/// <summary>The audit log's health: records written, checkpoints, and key operations withheld because their record could not be kept.</summary>
internal sealed class AuditLogMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly Counter<long> _written;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _withheld;
    private readonly Counter<long> _writeErrors;
    private readonly Counter<long> _checkpoints;
    private readonly Counter<long> _shipErrors;
    private readonly Counter<long> _threw;
    private readonly Counter<long> _rotations;
    private readonly Counter<long> _deleted;
    private readonly Counter<long> _kept;
    private readonly Counter<long> _maintenanceErrors;

    public AuditLogMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(KeyServerMetrics.MeterName);
        _written = _meter.CreateCounter<long>("keyless.keyserver.audit.records", description: "Audit records written to the file and fsynced");
        _bytes = _meter.CreateCounter<long>("keyless.keyserver.audit.bytes", unit: "By",
            description: "Bytes written to the audit log's files and fsynced (records, checkpoints, chain lines), before compression: what the disk has to take");
        _withheld = _meter.CreateCounter<long>("keyless.keyserver.audit.withheld",
            description: "Audit records not kept, by reason (queue_full, write_failed, closed, writer_stopped): key operations answered AuditFailed without output, or refusals and events not recorded");
        _writeErrors = _meter.CreateCounter<long>("keyless.keyserver.audit.write_errors", description: "Failed writes or fsyncs of the audit log or its state file");
        _checkpoints = _meter.CreateCounter<long>("keyless.keyserver.audit.checkpoints", description: "Keyed checkpoints written to the audit log");
        _shipErrors = _meter.CreateCounter<long>("keyless.keyserver.audit.ship_errors", description: "Checkpoints that could not be shipped to the heads file or syslog");
        _rotations = _meter.CreateCounter<long>("keyless.keyserver.audit.rotations", description: "Audit log files rotated (the chain continues in a new file)");
        _deleted = _meter.CreateCounter<long>("keyless.keyserver.audit.files_deleted", description: "Rotated audit log files deleted by retention");
        _kept = _meter.CreateCounter<long>("keyless.keyserver.audit.retention_kept",
            description: "Retention passes that kept a file they would have deleted: its head was not shipped off the host, or it belongs to an earlier chain");
        _maintenanceErrors = _meter.CreateCounter<long>("keyless.keyserver.audit.maintenance_errors", description: "Rotated audit log files that could not be compressed or deleted");
        _threw = _meter.CreateCounter<long>("keyless.keyserver.operations_threw", description: "Key operations that threw, by operation (recorded as failures)");
    }

    public void Written(int records) => _written.Add(records);

    public void BytesWritten(long bytes) => _bytes.Add(bytes);

    public void Withheld(string reason) => _withheld.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void WriteFailed() => _writeErrors.Add(1);

    public void Checkpointed() => _checkpoints.Add(1);

    public void ShipFailed() => _shipErrors.Add(1);

    public void Rotated() => _rotations.Add(1);

    public void Deleted() => _deleted.Add(1);

    public void RetentionKept() => _kept.Add(1);

    public void MaintenanceFailed() => _maintenanceErrors.Add(1);

    public void OperationThrew(string operation) => _threw.Add(1, new KeyValuePair<string, object?>("operation", operation));

    public void Dispose() => _meter.Dispose();
}
