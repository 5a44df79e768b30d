using System.Diagnostics;
using System.Diagnostics.Metrics;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Diagnostics;

/// <summary>
/// Key-server metrics. Outcomes are the typed statuses only: a decrypt with bad padding counts as Ok, exactly
/// like a good one, so the metrics are no padding oracle.
/// </summary>
internal sealed class KeyServerMetrics : IDisposable
{
    public const string MeterName = "KeylessOrleans.KeyServer";

    private readonly Meter _meter;
    private readonly Counter<long> _operations;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _denied;
    private readonly Counter<long> _sessions;
    private readonly Counter<long> _policyChanges;

    public KeyServerMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _operations = _meter.CreateCounter<long>("keyless.keyserver.operations", description: "Key operations by operation and outcome");
        _denied = _meter.CreateCounter<long>("keyless.keyserver.denials", description: "Key requests refused before any key operation, by operation and reason");
        _sessions = _meter.CreateCounter<long>("keyless.keyserver.edge_sessions", description: "Edge sessions opened or refused");
        _policyChanges = _meter.CreateCounter<long>("keyless.keyserver.policy_changes", description: "Changes of the tenant's policy file while running: applied or refused");
        _duration = _meter.CreateHistogram<double>("keyless.keyserver.operation.duration", unit: "ms", description: "Time spent in a key operation");
    }

    private long _performed;

    /// <summary>Key operations that reached a key since start (refusals before any key was touched excluded).</summary>
    public long OperationsPerformed => Interlocked.Read(ref _performed);

    public void Record(string operation, KeyOperationStatus outcome, TimeSpan elapsed)
    {
        Interlocked.Increment(ref _performed);
        var tags = new TagList { { "operation", operation }, { "outcome", OutcomeNames.Of(outcome) } };
        _operations.Add(1, tags);
        _duration.Record(elapsed.TotalMilliseconds, tags);
    }

    public void Denied(string operation, string reason) =>
        _denied.Add(1, new TagList { { "operation", operation }, { "reason", reason } });

    public void EdgeSession(string outcome) => _sessions.Add(1, new TagList { { "outcome", outcome } });

    /// <summary>A change of the policy file: "applied", or "refused" (invalid; the running policy stays) — worth an alert.</summary>
    public void PolicyChange(string outcome) => _policyChanges.Add(1, new TagList { { "outcome", outcome } });

    public void Dispose() => _meter.Dispose();
}
