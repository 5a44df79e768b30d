using System.Diagnostics.Metrics;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Tls;

namespace KeylessOrleans.Edge.Diagnostics;

/// <summary>
/// Values read at scrape time rather than counted: the handshake pool's load and how long each registered
/// certificate has left. Registered when the observed object is created, so a gauge never outlives its source's
/// registration or reads one that was never built.
/// </summary>
public static class EdgeGauges
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
        }, unit: "s", description: "Seconds until a registered certificate's NotAfter, by tenant, host name and key (negative: expired)");
        return routes;
    }
}
