using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KeylessOrleans.Cli.Hosting;

/// <summary>
/// An edge started with <c>--tenants FILE</c> is not ready before the file is in the registry: until then a load
/// balancer would send it clients of tenants it answers with unrecognized_name. A tenant the registry refused makes
/// it Degraded, not unready: the file's other tenants are served, and the refusal is the operator's to fix. So does an
/// import still under way after <see cref="TenantFileImporter.ReadyWithin"/>: a long file must not keep an edge that
/// serves every tenant already in the registry out of the load balancer.
/// </summary>
internal sealed class TenantFileReadinessCheck(TenantFileImporter importer) : IHealthCheck
{
    public const string Name = "tenants-file";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (imported, refused, total) = importer.Progress;
        // No file path, no refusal reasons (those are logged): /readyz is open to anyone who reaches the admin port.
        var data = new Dictionary<string, object> { ["imported"] = imported, ["refused"] = refused.Count };
        if (!importer.Done.IsCompletedSuccessfully)
        {
            var of = total < 0 ? "" : $" ({imported + refused.Count} of {total} done)";
            return Task.FromResult(importer.Overdue
                ? HealthCheckResult.Degraded($"still importing the tenants file into the registry{of} after {importer.ReadyWithin} ({TenantFileImporter.ReadyWithinSetting}): "
                    + "its tenants not yet in get unrecognized_name", data: data)
                : HealthCheckResult.Unhealthy($"importing the tenants file into the registry{of}", data: data));
        }
        return Task.FromResult(refused.Count == 0
            ? HealthCheckResult.Healthy($"{imported} tenants imported", data)
            : HealthCheckResult.Degraded($"the registry refused tenants {string.Join(", ", refused)} (event 4002 says why)", data: data));
    }
}
