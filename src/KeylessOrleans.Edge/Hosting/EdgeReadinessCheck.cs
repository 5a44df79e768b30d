using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Edge.WarmUp;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Hosting;

/// <summary>
/// Ready = this edge can take traffic: its silo is an active cluster member, it holds a registry snapshot and
/// its TLS listener is bound. A tenant without a registered key server makes it Degraded, not unready: every
/// edge would say the same, so taking this one out of the load balancer would only hurt the other tenants.
/// Until its warm-up (<see cref="EdgeWarmUp"/>) is over it is not ready: its first clients would wait on the compiler.
/// </summary>
internal sealed class EdgeReadinessCheck(
    IClusterMembershipService membership,
    ILocalSiloDetails silo,
    RouteTable routes,
    EdgeListener listener,
    EdgeWarmUp warmUp,
    IOptions<EdgeOptions> options) : IHealthCheck
{
    public const string Name = "edge";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
        if (status != SiloStatus.Active)
            return Task.FromResult(HealthCheckResult.Unhealthy($"silo is {status} in the cluster, not Active"));
        if (!routes.IsLoaded)
            return Task.FromResult(HealthCheckResult.Unhealthy("the registry's change feed has not been read yet"));
        if (options.Value.Listener.HttpsPort is not null && !listener.BoundEndPoint.IsCompletedSuccessfully)
            return Task.FromResult(HealthCheckResult.Unhealthy("TLS listener not bound"));
        if (!warmUp.IsDone)
            return Task.FromResult(HealthCheckResult.Unhealthy("warming up: handshakes with itself before the first client's (Keyless:Edge:WarmUp)"));

        var data = new Dictionary<string, object> { ["registry_feed"] = routes.Position.Sequence, ["served_tenants"] = routes.CachedTenants };
        if (warmUp.Done.Result is { } warmed)
        {
            data["warm_up_handshakes"] = warmed.Handshakes;
            data["warm_up_key_calls"] = warmed.KeyCalls.Succeeded;
        }
        var missing = routes.TenantsWithoutKeyServer();
        return Task.FromResult(missing.Count == 0
            ? HealthCheckResult.Healthy("serving", data)
            : HealthCheckResult.Degraded($"no key server registered for: {string.Join(", ", missing)}", data: data));
    }
}
