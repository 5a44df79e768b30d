using System.Text.Json;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.Cli.Hosting;

/// <summary>
/// Loads operator tenant settings from a JSON file into the registry at start, retrying until the registry is up, then
/// warms the routes of those with their own key-server cluster:
/// <c>{ "tenants": [ { "tenant": "demo", "hostNames": ["demo.localhost"], "origin": { "host": "127.0.0.1", "port": 8080 } } ] }</c>.
/// </summary>
/// <remarks>
/// Also a readiness check: an edge whose file is not imported yet would answer its tenants' names with
/// unrecognized_name, so it is not ready until every tenant in the file was imported or refused (a refusal is logged
/// as an error and not retried: waiting for it would keep the edge out of service for the other tenants).
/// </remarks>
internal sealed partial class TenantFileImporter(string file, IGrainFactory grains, RouteTable routes, ILogger<TenantFileImporter> logger) : BackgroundService, IHealthCheck
{
    public const string HealthCheckName = "tenants-file";

    /// <summary>How long readiness waits for the imported tenants' routes to be warm; past it the edge is ready anyway.</summary>
    public static readonly TimeSpan WarmUpLimit = TimeSpan.FromSeconds(15);

    private volatile bool _done;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_done ? HealthCheckResult.Healthy($"{file} imported") : HealthCheckResult.Unhealthy($"{file} not imported into the registry yet"));

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public static IReadOnlyList<TenantSettings> Read(string file)
    {
        var document = JsonSerializer.Deserialize<TenantFile>(File.ReadAllText(file), Json)
            ?? throw new InvalidDataException($"Tenant file '{file}' is empty.");
        return document.Tenants;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var tenants = Read(file);
        var registry = grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);
        await ImportAsync(registry, tenants, stoppingToken);
        await WarmAsync(tenants, stoppingToken);
        _done = !stoppingToken.IsCancellationRequested;
    }

    /// <summary>
    /// Builds the route of each imported tenant with its own key-server cluster as its first handshake would (registry
    /// lookup, connecting to that cluster, checking its chains), so the first clients after "ready" neither wait for
    /// that nor fail when it takes longer than a handshake's lookup deadline (2 s).
    /// </summary>
    private async Task WarmAsync(IReadOnlyList<TenantSettings> tenants, CancellationToken stoppingToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        limit.CancelAfter(WarmUpLimit);
        // Only tenants with their own key-server cluster: this edge connects to it and checks its chains before their
        // first handshake. Self-registered key servers come when they come, and a tenant asked for before they do
        // would make the edge Degraded from the start.
        foreach (var tenant in tenants.Where(t => t.IsFederated))
        {
            if (tenant.HostNames.FirstOrDefault() is not { } name) continue;
            // A wildcard's route is built by any name under it.
            var host = name.StartsWith("*.", StringComparison.Ordinal) ? "warm-up" + name[1..] : name;
            var warm = false;
            while (!warm && !limit.IsCancellationRequested)
            {
                try
                {
                    var route = await Task.Run(() => routes.Resolve(host), limit.Token);
                    warm = route is null || route.Keys.Keys.Count > 0;
                }
                catch (Exception e) when (e is RegistryUnavailableException or OperationCanceledException)
                {
                }
                if (!warm) await Task.Delay(TimeSpan.FromMilliseconds(200), limit.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            if (!warm && !stoppingToken.IsCancellationRequested) LogNotWarm(tenant.Tenant, WarmUpLimit.TotalSeconds);
        }
    }

    private async Task ImportAsync(IRegistryGrain registry, IReadOnlyList<TenantSettings> tenants, CancellationToken stoppingToken)
    {
        foreach (var tenant in tenants)
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await registry.SetTenantAsync(tenant).WaitAsync(TimeSpan.FromSeconds(10), stoppingToken);
                    LogImported(tenant.Tenant, string.Join(", ", tenant.HostNames), tenant.Origin.Host, tenant.Origin.Port);
                    break;
                }
                catch (ArgumentException e)
                {
                    LogRefused(tenant.Tenant, e.Message);
                    break;
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    LogRetrying(tenant.Tenant, e.GetType().Name);
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
            }
        }
    }

    private sealed record TenantFile(IReadOnlyList<TenantSettings> Tenants);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Tenant {Tenant} imported: {HostNames} -> {OriginHost}:{OriginPort}")]
    private partial void LogImported(string tenant, string hostNames, string originHost, int originPort);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Error, Message = "Tenant {Tenant} refused by the registry: {Reason}")]
    private partial void LogRefused(string tenant, string reason);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Tenant {Tenant}: no certificate chain from its key servers within {Seconds} s of start; ready without it")]
    private partial void LogNotWarm(string tenant, double seconds);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Registry not reachable yet for tenant {Tenant} ({Error}); retrying")]
    private partial void LogRetrying(string tenant, string error);
}
