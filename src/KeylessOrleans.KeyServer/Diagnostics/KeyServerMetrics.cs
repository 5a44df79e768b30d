using System.Diagnostics;
using System.Diagnostics.Metrics;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Diagnostics;

/// <summary>
/// Key-server metrics. Outcomes are the typed statuses only: a decrypt with bad padding counts as Ok, exactly
/// like a good one, so the metrics are no padding oracle.
/// </summary>
public sealed class KeyServerMetrics : IDisposable
{
    public const string MeterName = "KeylessOrleans.KeyServer";

    private readonly Meter _meter;
    private readonly Counter<long> _operations;
    private readonly Histogram<double> _duration;

    public KeyServerMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _operations = _meter.CreateCounter<long>("keyless.keyserver.operations", description: "Key operations by operation and outcome");
        _duration = _meter.CreateHistogram<double>("keyless.keyserver.operation.duration", unit: "ms", description: "Time spent in a key operation");
    }

    public void Record(string operation, KeyOperationStatus outcome, TimeSpan elapsed)
    {
        var tags = new TagList { { "operation", operation }, { "outcome", outcome.ToString() } };
        _operations.Add(1, tags);
        _duration.Record(elapsed.TotalMilliseconds, tags);
    }

    public void Dispose() => _meter.Dispose();
}
