using System.Diagnostics.Metrics;
using KeylessOrleans.Status;

namespace KeylessOrleans.Edge.Diagnostics;

/// <summary>
/// This edge's handshakes of the last minute by tenant and outcome (and how many used a post-quantum hybrid group), and its open connections, for
/// <c>keyless status</c>. Read off the edge's own <see cref="EdgeMetrics"/> instruments (a listener on that meter
/// only), so the status shows exactly what the metrics count. One-second buckets in a ring of 60.
/// </summary>
internal sealed class HandshakeWindow : IDisposable
{
    public static readonly TimeSpan Length = TimeSpan.FromMinutes(1);
    private const int Seconds = 60;

    private readonly TimeProvider _time;
    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Tenant, string Outcome), (Ring All, Ring PostQuantum)> _counts = [];
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
            string? tenant = null, outcome = null, group = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "tenant") tenant = tag.Value as string;
                else if (tag.Key == "outcome") outcome = tag.Value as string;
                else if (tag.Key == "group") group = tag.Value as string;
            }
            Record(tenant ?? "-", outcome ?? "-", value, group is not null && Tls.KeyShareGroups.IsHybrid(group));
        });
        _listener.Start();
    }

    /// <summary>Connections open now (counted since this window started, which is before the listener accepts).</summary>
    public long OpenConnections => Interlocked.Read(ref _open);

    public void Record(string tenant, string outcome, long count = 1, bool postQuantum = false)
    {
        var second = _time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            if (!_counts.TryGetValue((tenant, outcome), out var rings)) _counts[(tenant, outcome)] = rings = (new Ring(), new Ring());
            rings.All.Add(second, count);
            rings.PostQuantum.Add(second, postQuantum ? count : 0);
        }
    }

    public IReadOnlyList<HandshakeCount> Snapshot()
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            return _counts.Select(c => new HandshakeCount(c.Key.Tenant, c.Key.Outcome, c.Value.All.Sum(now), c.Value.PostQuantum.Sum(now)))
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
