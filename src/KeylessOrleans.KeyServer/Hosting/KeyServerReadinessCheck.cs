using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.Registry;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KeylessOrleans.KeyServer.Hosting;

/// <summary>
/// Ready = edges can use this replica: it holds at least one key with a certificate chain, and it is reachable — in the
/// tenant's own cluster, its silo is active with the gateway open; in a shared cluster, the registry accepted its last
/// registration (which also proves it joined the cluster and reaches an edge).
/// </summary>
internal sealed class KeyServerReadinessCheck(IKeyStore store, RegistrationState registration) : IHealthCheck
{
    public const string Name = "keyserver";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (store.Chains.Count == 0)
            return Task.FromResult(HealthCheckResult.Unhealthy("no key with a certificate chain loaded"));
        if (!registration.Registered)
            return Task.FromResult(HealthCheckResult.Unhealthy($"not serving: {registration.Problem}"));
        return Task.FromResult(HealthCheckResult.Healthy($"serving {store.Chains.Count} certificate chains"));
    }
}
