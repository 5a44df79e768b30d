using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Routing;

/// <summary>
/// Keeps the <see cref="RouteTable"/> current: asks the registry every <see cref="EdgeOptions.RegistryPollInterval"/>
/// for a snapshot newer than the one held, so additions, rotations and removals reach the edge within seconds.
/// </summary>
public sealed partial class RegistryFollower(
    IGrainFactory grains,
    RouteTable routes,
    ReplicaHealth health,
    IOptions<EdgeOptions> options,
    ILogger<RegistryFollower> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var registry = grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);
        return PollingLoop.RunAsync(async stopping =>
            {
                var snapshot = await registry.GetSnapshotIfChangedAsync(routes.Version).WaitAsync(TimeSpan.FromSeconds(10), stopping);
                if (snapshot is null) return;
                if (IsEmptyRestart(snapshot, routes.Version))
                {
                    // The registry came back empty (in-memory storage loses its state when the silos holding it
                    // leave): keep serving what we know until the operator's tenants are set again.
                    if (!_warnedEmpty) LogRegistryRestartedEmpty(snapshot.Version, routes.Version);
                    _warnedEmpty = true;
                    return;
                }
                _warnedEmpty = false;
                routes.Apply(snapshot);
                health.Retain(snapshot.Replicas.Select(r => (r.Tenant, r.Replica))
                    .Concat(snapshot.Tenants.SelectMany(t => (t.KeyServers ?? []).Select(k => (t.Tenant, k.Replica)))).ToHashSet());
                LogApplied(snapshot.Version, snapshot.Tenants.Count, snapshot.Replicas.Count);
            },
            () => options.Value.RegistryPollInterval,
            e => LogRegistryUnreachable(e.GetType().Name, e.Message), // keep serving from the last snapshot
            stoppingToken);
    }

    private bool _warnedEmpty;

    /// <summary>
    /// A snapshot older than ours with no tenants: the registry restarted empty (in-memory storage), not an operator
    /// removing every tenant (that comes with a newer version).
    /// </summary>
    public static bool IsEmptyRestart(RegistrySnapshot snapshot, long knownVersion) =>
        snapshot.Version < knownVersion && snapshot.Tenants.Count == 0;

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "Registry came back empty (version {Version}, ours {Ours}); serving from the last snapshot until tenants are set again")]
    private partial void LogRegistryRestartedEmpty(long version, long ours);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Registry version {Version} applied: {TenantCount} tenants, {ReplicaCount} key-server replicas")]
    private partial void LogApplied(long version, int tenantCount, int replicaCount);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Registry unreachable ({Error}: {Message}); serving from the last snapshot")]
    private partial void LogRegistryUnreachable(string error, string message);
}
