using System.Globalization;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// The successful handshakes in an edge's /metrics histogram (keyless_edge_handshake_duration_milliseconds):
/// cumulative counts per bucket bound, so two scrapes give the count and percentiles of what happened between them.
/// </summary>
internal sealed class EdgeHistogram
{
    private const string Series = "keyless_edge_handshake_duration_milliseconds_bucket";

    private readonly SortedDictionary<double, double> _cumulative;

    private EdgeHistogram(SortedDictionary<double, double> cumulative) => _cumulative = cumulative;

    public static async Task<EdgeHistogram> ScrapeAsync(AdminEndpoint admin)
    {
        var cumulative = new SortedDictionary<double, double>();
        foreach (var (labels, value) in AdminEndpoint.Samples(await admin.MetricsAsync(), Series))
        {
            if (!labels.TryGetValue("outcome", out var outcome) || outcome != "ok" || !labels.TryGetValue("le", out var le)) continue;
            var bound = le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture);
            cumulative[bound] = cumulative.GetValueOrDefault(bound) + value;
        }
        return new EdgeHistogram(cumulative);
    }

    /// <summary>Handshakes between the two scrapes, and their p50 and p99 interpolated within buckets (NaN when none).</summary>
    public static (double Count, double P50, double P99) Between(EdgeHistogram before, EdgeHistogram after)
    {
        var deltas = after._cumulative.Select(b => (Bound: b.Key, Count: b.Value - before._cumulative.GetValueOrDefault(b.Key))).ToList();
        var total = deltas.Count == 0 ? 0 : deltas[^1].Count;
        return (total, Quantile(deltas, total, 0.50), Quantile(deltas, total, 0.99));
    }

    private static double Quantile(List<(double Bound, double Count)> cumulative, double total, double q)
    {
        if (total <= 0) return double.NaN;
        var target = q * total;
        var (lowerBound, lowerCount) = (0.0, 0.0);
        foreach (var (bound, count) in cumulative)
        {
            if (count >= target)
            {
                if (double.IsPositiveInfinity(bound)) return lowerBound;
                var share = count > lowerCount ? (target - lowerCount) / (count - lowerCount) : 0;
                return lowerBound + share * (bound - lowerBound);
            }
            (lowerBound, lowerCount) = (bound, count);
        }
        return lowerBound;
    }
}
