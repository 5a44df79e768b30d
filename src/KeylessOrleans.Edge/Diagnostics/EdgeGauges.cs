using System.Diagnostics.Metrics;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Tls;

namespace KeylessOrleans.Edge.Diagnostics;

/// <summary>
/// Values read at scrape time rather than counted: the handshake pool's load and how long each registered
/// certificate has left. Registered when the observed object is created, so a gauge never outlives its source's
/// registration or reads one that was never built.
/// </summary>
internal static class EdgeGauges
{
    public static HandshakeWorkerPool Observe(this EdgeMetrics metrics, HandshakeWorkerPool pool)
    {
        metrics.Meter.CreateObservableGauge("keyless.edge.handshake_pool.busy", () => pool.Busy, description: "Handshake threads running a step now");
        metrics.Meter.CreateObservableGauge("keyless.edge.handshake_pool.queued", () => pool.Queued, description: "Handshake steps waiting for a thread");
        return pool;
    }

    public static RouteTable Observe(this EdgeMetrics metrics, RouteTable routes, TimeProvider clock)
    {
        metrics.Meter.CreateObservableGauge("keyless.edge.certificate.expiry", () =>
        {
            var now = clock.GetUtcNow();
            return routes.CertificateExpiries().Select(e => new Measurement<double>((e.NotAfter - now).TotalSeconds,
                new KeyValuePair<string, object?>("tenant", e.Tenant),
                new KeyValuePair<string, object?>("host_name", e.HostName),
                new KeyValuePair<string, object?>("key_id", e.KeyId)));
        }, unit: "s", description: "Seconds until a served certificate's NotAfter, by tenant, host name and key (negative: expired)");
        metrics.Meter.CreateObservableGauge("keyless.edge.routes.names", () => routes.CachedNames,
            description: "Host names whose answer (a tenant, or none) this edge holds");
        metrics.Meter.CreateObservableGauge("keyless.edge.routes.tenants", () => routes.CachedTenants,
            description: "Tenants this edge serves (looked up since it started, not idle)");
        metrics.Meter.CreateObservableCounter("keyless.edge.registry.lookups.shed", () => routes.ShedLookups,
            description: "Registry reads refused over the edge's limit (a flood of unknown names); their handshakes got internal_error");
        metrics.Meter.CreateObservableCounter("keyless.edge.registry.lookups.failed", () => routes.FailedLookups,
            description: "Registry reads that failed or timed out; their handshakes got internal_error");
        return routes;
    }
}
