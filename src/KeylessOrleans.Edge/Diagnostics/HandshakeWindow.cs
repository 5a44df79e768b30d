using System.Diagnostics.Metrics;
using KeylessOrleans.Status;

namespace KeylessOrleans.Edge.Diagnostics;

/// <summary>
/// This edge's handshakes of the last minute by tenant and outcome, and its open connections, for
/// <c>keyless status</c>. Read off the edge's own <see cref="EdgeMetrics"/> instruments (a listener on that meter
/// only), so the status shows exactly what the metrics count. One-second buckets in a ring of 60.
/// </summary>
public sealed class HandshakeWindow : IDisposable
{
    public static readonly TimeSpan Length = TimeSpan.FromMinutes(1);
    private const int Seconds = 60;

    private readonly TimeProvider _time;
    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Tenant, string Outcome), Ring> _counts = [];
    private long _open;

    public HandshakeWindow(EdgeMetrics metrics, TimeProvider time)
    {
        _time = time;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter) && instrument.Name is EdgeMetrics.Handshakes or EdgeMetrics.OpenConnections)
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == EdgeMetrics.OpenConnections)
            {
                Interlocked.Add(ref _open, value);
                return;
            }
            string? tenant = null, outcome = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "tenant") tenant = tag.Value as string;
                else if (tag.Key == "outcome") outcome = tag.Value as string;
            }
            Record(tenant ?? "-", outcome ?? "-", value);
        });
        _listener.Start();
    }

    /// <summary>Connections open now (counted since this window started, which is before the listener accepts).</summary>
    public long OpenConnections => Interlocked.Read(ref _open);

    public void Record(string tenant, string outcome, long count = 1)
    {
        var second = _time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            if (!_counts.TryGetValue((tenant, outcome), out var ring)) _counts[(tenant, outcome)] = ring = new Ring();
            ring.Add(second, count);
        }
    }

    public IReadOnlyList<HandshakeCount> Snapshot()
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            return _counts.Select(c => new HandshakeCount(c.Key.Tenant, c.Key.Outcome, c.Value.Sum(now)))
                .Where(c => c.Count > 0)
                .OrderBy(c => c.Tenant, StringComparer.Ordinal).ThenBy(c => c.Outcome, StringComparer.Ordinal)
                .ToList();
        }
    }

    public void Dispose() => _listener.Dispose();

    private sealed class Ring
    {
        private readonly long[] _second = new long[Seconds];
        private readonly long[] _count = new long[Seconds];

        public void Add(long second, long count)
        {
            var slot = (int)(second % Seconds);
            if (_second[slot] != second)
            {
                _second[slot] = second;
                _count[slot] = 0;
            }
            _count[slot] += count;
        }

        public long Sum(long now)
        {
            long sum = 0;
            for (var i = 0; i < Seconds; i++)
                if (now - _second[i] < Seconds) sum += _count[i];
            return sum;
        }
    }
}
