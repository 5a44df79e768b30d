using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using KeylessOrleans.Edge.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// Counts what one edge reports through its meter, per instrument and value of one tag (e.g. handshakes by
/// "outcome"): what an operator's dashboard would show, read without an exporter.
/// </summary>
public sealed class EdgeMeterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string? Tag), long> _totals = new();

    public EdgeMeterRecorder(EdgeFixture edge, params (string Instrument, string? Tag)[] wanted) : this(edge.EdgeServices, wanted)
    {
    }

    /// <param name="edgeServices">The edge silo's services (for clusters other than <see cref="EdgeFixture"/>'s).</param>
    public EdgeMeterRecorder(IServiceProvider edgeServices, params (string Instrument, string? Tag)[] wanted)
    {
        var meter = edgeServices.GetRequiredService<EdgeMetrics>().Meter;
        var tagOf = wanted.ToDictionary(w => w.Instrument, w => w.Tag);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == meter && tagOf.ContainsKey(instrument.Name)) listener.EnableMeasurementEvents(instrument, tagOf[instrument.Name]);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) =>
        {
            var tagName = (string?)state;
            string? tagValue = null;
            foreach (var tag in tags)
                if (tag.Key == tagName) tagValue = tag.Value?.ToString();
            _totals.AddOrUpdate((instrument.Name, tagValue), value, (_, total) => total + value);
        });
        _listener.SetMeasurementEventCallback<double>((_, _, _, _) => { });
        _listener.Start();
    }

    /// <summary>Sum of the measurements of <paramref name="instrument"/> whose tag had <paramref name="tagValue"/>.</summary>
    public long Total(string instrument, string? tagValue = null) => _totals.GetValueOrDefault((instrument, tagValue));

    /// <summary>Sums of <paramref name="instrument"/> by tag value.</summary>
    public IReadOnlyDictionary<string, long> ByTag(string instrument) =>
        _totals.Where(t => t.Key.Instrument == instrument).ToDictionary(t => t.Key.Tag ?? "-", t => t.Value);

    public void Dispose() => _listener.Dispose();
}
