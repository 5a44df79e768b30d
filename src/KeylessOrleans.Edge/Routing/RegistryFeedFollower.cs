using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Routing;

/// <summary>
/// Keeps the <see cref="RouteTable"/> current: reads the registry's change feed every
/// <see cref="EdgeControlPlaneOptions.RegistryPollInterval"/> and drops what changed, so additions, rotations and removals reach
/// the edge within a second. A read with nothing new costs a few bytes, whatever the size of the fleet.
/// </summary>
internal sealed partial class RegistryFeedFollower(
    IGrainFactory grains,
    RouteTable routes,
    ReplicaHealth health,
    IOptions<EdgeOptions> options,
    TimeProvider time,
    ILogger<RegistryFeedFollower> logger) : BackgroundService
{
    /// <summary>How often idle tenants and old answers are swept from the route table.</summary>
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        routes.TenantDropped += health.Forget;
        var feed = grains.GetGrain<IRegistryFeedGrain>(IRegistryGrain.DefaultKey);
        var position = FeedPosition.Start;
        var lastSweep = time.GetTimestamp();
        return PollingLoop.RunAsync(async stopping =>
            {
                RegistryChanges changes;
                var changed = new HashSet<string>(StringComparer.Ordinal);
                do
                {
                    changes = await feed.ReadAsync(position, RegistryChanges.MaxPerRead).WaitAsync(TimeSpan.FromSeconds(10), stopping);
                    if (changes.StartOver)
                    {
                        if (position != FeedPosition.Start) LogStartOver(position.Epoch, position.Sequence, changes.Position.Epoch);
                        routes.StartOver();
                    }
                    foreach (var change in changes.Changes)
                    {
                        routes.Changed(change);
                        if (!change.Removed) changed.Add(change.Tenant);
                    }
                    if (changes.Changes.Count > 0) LogApplied(changes.Changes.Count, changes.Position.Sequence);
                    position = changes.Position;
                    routes.Followed(position);
                }
                while (changes.Changes.Count == RegistryChanges.MaxPerRead);

                // Tenants this edge serves are read again now (the others cost nothing): a renewed certificate and its
                // expiry show before the tenant's next client, and that client does not wait for the read.
                if (changed.Count > 0) await Task.Run(() => { foreach (var tenant in changed) if (!routes.Refresh(tenant)) break; }, stopping);

                if (time.GetElapsedTime(lastSweep) >= SweepInterval)
                {
                    routes.Sweep();
                    lastSweep = time.GetTimestamp();
                }
            },
            () => options.Value.ControlPlane.RegistryPollInterval,
            e => LogRegistryUnreachable(e.GetType().Name, e.Message), // keep serving what is cached
            stoppingToken);
    }

    [LoggerMessage(EventId = EventIds.RegistryChangesApplied, Level = LogLevel.Debug, Message = "Registry feed: {Count} changes applied, at {Sequence}")]
    private partial void LogApplied(int count, long sequence);

    [LoggerMessage(EventId = EventIds.RegistryUnreachable, Level = LogLevel.Warning, Message = "Registry feed unreachable ({Error}: {Message}); serving what is cached")]
    private partial void LogRegistryUnreachable(string error, string message);

    [LoggerMessage(EventId = EventIds.RegistryFeedStartOver, Level = LogLevel.Information, Message = "Registry feed restarted (epoch {Epoch} at {Sequence}, now {NewEpoch}); cached routes dropped and looked up again")]
    private partial void LogStartOver(long epoch, long sequence, long newEpoch);
}
