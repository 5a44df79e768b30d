using System.Diagnostics;
using System.Diagnostics.Metrics;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.Diagnostics;

/// <summary>Edge-side metrics of calls to tenants' key servers.</summary>
public sealed class EdgeMetrics : IDisposable
{
    public const string MeterName = "KeylessOrleans.Edge";

    private readonly Meter _meter;
    private readonly Counter<long> _keyCalls;
    private readonly Histogram<double> _keyCallDuration;

    public EdgeMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _keyCalls = _meter.CreateCounter<long>("keyless.edge.key_calls", description: "Calls to key servers by tenant, operation and outcome");
        _keyCallDuration = _meter.CreateHistogram<double>("keyless.edge.key_call.duration", unit: "ms", description: "Round trip of a key call, as the edge sees it");
    }

    public void RecordKeyCall(string tenant, string operation, KeyOperationStatus outcome, TimeSpan elapsed)
    {
        var tags = new TagList { { "tenant", tenant }, { "operation", operation }, { "outcome", outcome.ToString() } };
        _keyCalls.Add(1, tags);
        _keyCallDuration.Record(elapsed.TotalMilliseconds, tags);
    }

    public void Dispose() => _meter.Dispose();
}
