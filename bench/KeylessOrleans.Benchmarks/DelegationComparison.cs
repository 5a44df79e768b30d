using System.Diagnostics.Metrics;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// What delegated credentials buy: the same TLS 1.3 client (NSS tstclnt) against the same keyless edge, with the
/// delegated_credential extension (-B) and without, in alternating one-second slices after a warm-up, with the key
/// server on loopback and then answering 20 ms late (as across a WAN). Reports the share of -B handshakes that made
/// no key call (counted from the very first, which only starts the issuance) and the edge's own accept-to-finished
/// latency in the measured slices.
/// </summary>
internal static class DelegationComparison
{
    public static async Task RunAsync(int seconds, int clients)
    {
        Console.WriteLine($"# Delegated credentials — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {clients} × tstclnt, {seconds} s per row");
        Console.WriteLine();
        Console.WriteLine("| key server | client | handshakes | without a key call | p50 / p99 ms |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var delay in new[] { TimeSpan.Zero, TimeSpan.FromMilliseconds(20) })
        {
            using var ca = new TestCertificateAuthority("KeylessOrleans Bench CA");
            using var keys = new TenantKeyFolder(ca, [BenchCluster.Host], delegationUsage: true);
            await using var origin = new TestOrigin();
            using var identities = new ClusterIdentities("KeylessOrleans Bench cluster CA"); // edge proofs on, as in production
            await using var cluster = await BenchCluster.StartAsync(keys, origin.Port, handshakeThreads: 64, identities: identities, keyServerDelay: delay);
            using var nss = await NssClient.CreateAsync(ca);
            var where = delay == TimeSpan.Zero ? "loopback" : $"+{delay.TotalMilliseconds:0} ms";
            using var recorder = new Recorder();
            async Task SliceAsync(bool delegated, string mode)
            {
                recorder.Mode = mode;
                var until = DateTime.UtcNow.AddSeconds(1);
                await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
                {
                    while (DateTime.UtcNow < until) await nss.GetAsync(cluster.KeylessPort, BenchCluster.Host, delegated);
                }));
            }
            await SliceAsync(true, "warm-up -B"); // the first handshake starts the issuance; JIT warms up
            await SliceAsync(false, "warm-up");
            for (var i = 0; i < seconds; i++)
            {
                // Alternate which goes first, so drift on a shared machine falls on both alike.
                foreach (var delegated in i % 2 == 0 ? new[] { true, false } : [false, true])
                    await SliceAsync(delegated, delegated ? "-B" : "");
            }
            foreach (var mode in new[] { "-B", "" })
            {
                var (count, p50, p99) = recorder.Latency(mode);
                var share = recorder.ShareWithoutKeyCall(mode == "-B" ? ["warm-up -B", "-B"] : [""]);
                Console.WriteLine($"| {where} | tstclnt {mode} | {count} | {share:P1} | {p50:0.0} / {p99:0.0} |");
            }
        }
        Console.WriteLine();
        Console.WriteLine("The first handshakes with -B go keyless while the edge asks for its credential (no handshake waits for it).");
    }

    /// <summary>The edge's successful handshakes: which slice, duration, and whether a delegated credential served them.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string Mode, double Ms, bool Delegated)> _handshakes = [];
        private volatile string _mode = "";

        public Recorder()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == EdgeMetrics.MeterName && instrument.Name == "keyless.edge.handshake.duration")
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
            {
                bool ok = false, delegated = false;
                foreach (var tag in tags)
                {
                    if (tag.Key == "outcome") ok = Equals(tag.Value, "ok");
                    if (tag.Key == "delegated") delegated = Equals(tag.Value, true);
                }
                if (ok) lock (_handshakes) _handshakes.Add((_mode, value, delegated));
            });
            _listener.Start();
        }

        public string Mode { set => _mode = value; }

        public double ShareWithoutKeyCall(string[] modes)
        {
            lock (_handshakes)
            {
                var handshakes = _handshakes.Where(h => modes.Contains(h.Mode)).ToList();
                return handshakes.Count == 0 ? double.NaN : handshakes.Count(h => h.Delegated) / (double)handshakes.Count;
            }
        }

        public (int Count, double P50, double P99) Latency(string mode)
        {
            lock (_handshakes)
            {
                var sorted = _handshakes.Where(h => h.Mode == mode).Select(h => h.Ms).Order().ToArray();
                if (sorted.Length == 0) return (0, double.NaN, double.NaN);
                return (sorted.Length, sorted[(int)(sorted.Length * 0.50)], sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))]);
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
