using System.Diagnostics;
using System.Diagnostics.Metrics;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.Diagnostics;

/// <summary>Edge metrics: key calls, handshakes, connections.</summary>
internal sealed class EdgeMetrics : IDisposable
{
    public const string MeterName = "KeylessOrleans.Edge";
    public const string Handshakes = "keyless.edge.handshakes";
    public const string OpenConnections = "keyless.edge.connections.open";
    public const string BadAnswers = "keyless.edge.key_calls.bad_answers";

    /// <summary>
    /// Bucket bounds (ms) of the handshake and key-call histograms. Handshakes take 1–10 ms and key calls under 1 ms on
    /// a LAN: the exporters' default bounds (0, 5, 10, 25 …) would put nearly all of them in one or two buckets, so p50
    /// and p99 could not be read from /metrics.
    /// </summary>
    public static readonly IReadOnlyList<double> MillisecondBuckets =
        [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 75, 100, 250, 500, 1000, 2500, 5000, 10000];

    private readonly Meter _meter;
    private readonly Counter<long> _keyCalls;
    private readonly Histogram<double> _keyCallDuration;
    private readonly Counter<long> _failovers;
    private readonly Counter<long> _shortCircuited;
    private readonly Counter<long> _badAnswers;
    private readonly Counter<long> _handshakes;
    private readonly Histogram<double> _handshakeDuration;
    private readonly UpDownCounter<long> _openConnections;
    private readonly Counter<long> _refusedConnections;
    private readonly Counter<long> _ocspFetches;
    private readonly Counter<long> _delegatedCredentials;
    private readonly Counter<long> _tenantConnects;
    private readonly Counter<long> _chainAdmissions;
    private readonly Counter<long> _refusedGrainCalls;

    public EdgeMetrics(IMeterFactory meterFactory)
        : this(meterFactory, MeterName)
    {
    }

    /// <param name="meterName">
    /// A meter of another name than <see cref="MeterName"/> is not exported (the admin endpoint exports meters by
    /// name): the warm-up's handshakes go through the same instruments without counting as the edge's traffic.
    /// </param>
    internal EdgeMetrics(IMeterFactory meterFactory, string meterName)
    {
        _meter = meterFactory.Create(meterName);
        _keyCalls = _meter.CreateCounter<long>("keyless.edge.key_calls", description: "Calls to key servers by tenant, operation and outcome");
        _keyCallDuration = _meter.CreateHistogram<double>("keyless.edge.key_call.duration", unit: "ms", description: "Round trip of a key call, as the edge sees it",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = MillisecondBuckets });
        _failovers = _meter.CreateCounter<long>("keyless.edge.key_call.failovers", description: "Key calls also sent to a second replica, by tenant and why (failed, slow)");
        _shortCircuited = _meter.CreateCounter<long>("keyless.edge.key_calls.short_circuited", description: "Key calls refused at the edge because every replica of the tenant just failed, by tenant");
        _badAnswers = _meter.CreateCounter<long>(BadAnswers, description: "Key-server answers the edge refused because they did not verify under the certificate's key, by tenant, replica and operation");
        _handshakes = _meter.CreateCounter<long>(Handshakes, description: "TLS handshakes by tenant, version, resumption, key-agreement group and outcome");
        _handshakeDuration = _meter.CreateHistogram<double>("keyless.edge.handshake.duration", unit: "ms", description: "From accept to finished (or failed) handshake",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = MillisecondBuckets });
        _openConnections = _meter.CreateUpDownCounter<long>(OpenConnections, description: "Client connections open now");
        _refusedConnections = _meter.CreateCounter<long>("keyless.edge.connections.refused", description: "Client connections refused at accept, by reason");
        _delegatedCredentials = _meter.CreateCounter<long>("keyless.edge.delegated_credentials.issued", description: "Delegated credentials asked of key servers, by tenant and outcome (ok, refused, failed)");
        _tenantConnects = _meter.CreateCounter<long>("keyless.edge.tenant_connects", description: "Connections to tenants' key-server clusters, by tenant and outcome (attempt, refused_certificate)");
        _chainAdmissions = _meter.CreateCounter<long>("keyless.edge.chain_admissions", description: "Certificate chains announced by tenants' key servers, by tenant and outcome (accepted, refused)");
        _refusedGrainCalls = _meter.CreateCounter<long>("keyless.edge.grain_calls.refused", description: "Grain calls this edge refused to run, by grain interface and reason (no-proof, bad-proof, role, not-local, undeclared)");
        _ocspFetches = _meter.CreateCounter<long>("keyless.edge.ocsp.fetches", description: "OCSP responses fetched for stapling, by outcome (ok, refused, unreachable, failed)");
    }

    public Meter Meter => _meter;

    public void RecordKeyCall(string tenant, string operation, KeyOperationStatus outcome, TimeSpan elapsed)
    {
        var tags = new TagList { { "tenant", tenant }, { "operation", operation }, { "outcome", outcome.ToString() } };
        _keyCalls.Add(1, tags);
        _keyCallDuration.Record(elapsed.TotalMilliseconds, tags);
    }

    public void KeyCallFailover(string tenant, string reason) =>
        _failovers.Add(1, new TagList { { "tenant", tenant }, { "reason", reason } });

    public void KeyAnswerRejected(string tenant, string replica, string operation) =>
        _badAnswers.Add(1, new TagList { { "tenant", tenant }, { "replica", replica }, { "operation", operation } });

    public void KeyCallShortCircuited(string tenant) => _shortCircuited.Add(1, new KeyValuePair<string, object?>("tenant", tenant));

    /// <param name="delegated">Served through a delegated credential: no key call at all.</param>
    /// <param name="group">The key-agreement group (X25519MLKEM768, x25519 …); null: none (resumed, RSA key exchange, failed early).</param>
    public void RecordHandshake(string? tenant, string? version, bool resumed, string outcome, TimeSpan elapsed, bool delegated = false, string? group = null)
    {
        var tags = new TagList { { "tenant", tenant ?? "-" }, { "version", version ?? "-" }, { "resumed", resumed }, { "delegated", delegated }, { "group", group ?? "-" }, { "outcome", outcome } };
        _handshakes.Add(1, tags);
        _handshakeDuration.Record(elapsed.TotalMilliseconds, tags);
    }

    public void ConnectionOpened() => _openConnections.Add(1);

    public void ConnectionClosed() => _openConnections.Add(-1);

    public void ConnectionRefused(string reason) => _refusedConnections.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void DelegatedCredentialIssued(string tenant, string outcome) =>
        _delegatedCredentials.Add(1, new TagList { { "tenant", tenant }, { "outcome", outcome } });

    public void OcspFetched(string outcome) => _ocspFetches.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void TenantConnectAttempt(string tenant) =>
        _tenantConnects.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("outcome", "attempt"));

    public void TenantConnectRefused(string tenant) =>
        _tenantConnects.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("outcome", "refused_certificate"));

    public void ChainAdmission(string tenant, bool accepted) =>
        _chainAdmissions.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("outcome", accepted ? "accepted" : "refused"));
    public void GrainCallRefused(string grainInterface, string reason) =>
        _refusedGrainCalls.Add(1, new TagList { { "interface", grainInterface }, { "reason", reason } });

    public void Dispose() => _meter.Dispose();
}
