using System.Diagnostics.Metrics;

namespace KeylessOrleans.KeyServer.Diagnostics;

/// <summary>The audit log's health: records written, and key operations withheld because their record could not be kept.</summary>
public sealed class AuditLogMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly Counter<long> _written;
    private readonly Counter<long> _withheld;
    private readonly Counter<long> _writeErrors;
    private readonly Counter<long> _lost;

    public AuditLogMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(KeyServerMetrics.MeterName);
        _written = _meter.CreateCounter<long>("keyless.keyserver.audit.records", description: "Audit records written to the file");
        _withheld = _meter.CreateCounter<long>("keyless.keyserver.audit.withheld",
            description: "Key operations answered Unavailable (or refusals not recorded) because no audit record could be queued, by reason");
        _writeErrors = _meter.CreateCounter<long>("keyless.keyserver.audit.write_errors", description: "Failed writes or fsyncs of the audit log (retried)");
        _lost = _meter.CreateCounter<long>("keyless.keyserver.audit.lost", description: "Queued audit records never written: the file kept failing until shutdown");
    }

    public void Written(int records) => _written.Add(records);

    public void Withheld(string reason) => _withheld.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void WriteFailed() => _writeErrors.Add(1);

    public void Lost(int records) => _lost.Add(records);

    public void Dispose() => _meter.Dispose();
}
