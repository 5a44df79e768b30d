using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Benchmarks;

/// <summary>One handshake scenario: what the clients ask for.</summary>
/// <param name="Resumed">Resume one TLS session (s_time -reuse) instead of a full handshake per connection.</param>
internal sealed record HandshakeScenario(string Name, string[] ClientOptions, string? SignatureAlgorithms, bool Resumed = false);

internal sealed record LoadResult(double PerSecond, double P50Ms, double P99Ms);

/// <summary>The rows every handshake table measures, for keyless, the in-process baseline and nginx alike.</summary>
internal static class HandshakeScenarios
{
    public static readonly HandshakeScenario[] Full =
    [
        new("TLS 1.3 ECDSA P-256", ["-tls1_3"], "ecdsa_secp256r1_sha256"),
        new("TLS 1.3 RSA-2048 (PSS)", ["-tls1_3"], "rsa_pss_rsae_sha256"),
        new("TLS 1.2 ECDHE-ECDSA", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], null),
        new("TLS 1.2 ECDHE-RSA", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], null),
        new("TLS 1.2 RSA key exchange", ["-tls1_2", "-cipher", "AES128-GCM-SHA256"], null),
    ];

    /// <summary>TLS 1.2 session tickets (s_time cannot turn them off) on every server; no key operation at all.</summary>
    public static readonly HandshakeScenario[] Resumed =
    [
        new("TLS 1.2 ECDHE-ECDSA resumed by ticket", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], null, Resumed: true),
        new("TLS 1.2 ECDHE-RSA resumed by ticket", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], null, Resumed: true),
    ];
}

/// <summary>
/// Drives full handshakes with N concurrent `openssl s_time -new` clients for a fixed time and reads the edge's
/// own handshake-duration histogram (accept to finished) for latency.
/// </summary>
internal static partial class HandshakeLoad
{
    public static async Task<LoadResult> RunAsync(int port, HandshakeScenario scenario, int clients, int seconds, string workDirectory)
    {
        var environment = new Dictionary<string, string>();
        if (scenario.SignatureAlgorithms is { } sigalgs)
        {
            // s_time has no -sigalgs: an OpenSSL configuration file sets them for the client.
            var config = Path.Combine(workDirectory, $"openssl-{sigalgs}.cnf");
            await File.WriteAllTextAsync(config, $"""
                openssl_conf = openssl_init
                [openssl_init]
                ssl_conf = ssl_sect
                [ssl_sect]
                system_default = system_default_sect
                [system_default_sect]
                SignatureAlgorithms = {sigalgs}
                """);
            environment["OPENSSL_CONF"] = config;
        }

        using var durations = new DurationRecorder();
        var runs = Enumerable.Range(0, clients).Select(_ => ExternalTool.RunAsync("openssl",
            ["s_time", "-connect", $"127.0.0.1:{port}", scenario.Resumed ? "-reuse" : "-new", "-time", $"{seconds}", .. scenario.ClientOptions],
            timeout: TimeSpan.FromSeconds(seconds + 60), environment: environment)).ToArray();
        var results = await Task.WhenAll(runs);
        var connections = results.Sum(r => ConnectionCount().Match(r.Output) is { Success: true } m ? int.Parse(m.Groups[1].Value) : 0);
        if (connections == 0) throw new InvalidOperationException($"no handshake completed in {scenario.Name}:\n{results[0].All}");
        var (p50, p99) = durations.Percentiles();
        return new LoadResult(connections / (double)seconds, p50, p99);
    }

    [GeneratedRegex(@"(\d+) connections in [\d.]+s")]
    private static partial Regex ConnectionCount();

    /// <summary>Collects the edges' successful-handshake durations while a scenario runs.</summary>
    private sealed class DurationRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<double> _values = [];

        public DurationRecorder()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == EdgeMetrics.MeterName && instrument.Name == "keyless.edge.handshake.duration")
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                    if (tag.Key == "outcome" && Equals(tag.Value, "ok"))
                        lock (_values) _values.Add(value);
            });
            _listener.Start();
        }

        public (double P50, double P99) Percentiles()
        {
            lock (_values)
            {
                if (_values.Count == 0) return (double.NaN, double.NaN);
                var sorted = _values.Order().ToArray();
                return (sorted[(int)(sorted.Length * 0.50)], sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))]);
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
