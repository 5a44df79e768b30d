using KeylessOrleans.Cluster.Placement;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.Registry;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.GrainDirectory;

namespace KeylessOrleans.KeyServer;

/// <summary>
/// One replica of a tenant's key server as a whole ("tenant/replica"): serves the public certificate chains of the
/// keys it holds, pinned to that replica's silo like its key grains. Edges poll it through the tenant's gateway.
/// </summary>
[TenantKeyPlacement, GrainDirectory(PlacementRuleDirectory.Name), Reentrant]
internal sealed partial class KeyServerGrain(
    IKeyStore store,
    ChainsVersion version,
    IOptions<KeyServerOptions> options,
    ILogger<KeyServerGrain> logger) : Grain, IKeyServerGrain
{
    private string? _misplaced;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        var (tenant, replica) = (options.Value.Tenant, options.Value.Replica);
        if (key.Split('/') is not [var keyTenant, var keyReplica] || keyTenant.Length == 0 || keyReplica.Length == 0)
            _misplaced = $"grain key '{key}' is not tenant/replica";
        else if (keyTenant != tenant || keyReplica != replica)
            _misplaced = $"grain for {keyTenant}/{keyReplica} activated on the silo of {tenant}/{replica}";
        if (_misplaced is not null) LogMisplaced(key, _misplaced);
        return Task.CompletedTask;
    }

    public Task<KeyServerChains?> GetChainsIfChangedAsync(string? knownVersion, CancellationToken cancellationToken = default)
    {
        // Chains of another replica would be believed as this one's: answer nothing rather than the wrong thing.
        if (_misplaced is not null) throw new UnauthorizedAccessException($"key server grain is not on its replica's silo: {_misplaced}");
        var current = version.Current;
        if (current == knownVersion) return Task.FromResult<KeyServerChains?>(null);
        var chains = ReplicaRegistrar.Describe(options.Value.Tenant, options.Value.Replica, store).Chains;
        return Task.FromResult<KeyServerChains?>(new KeyServerChains(current, chains));
    }

    [LoggerMessage(EventId = EventIds.KeyServerGrainMisplaced, Level = LogLevel.Error, Message = "Key server grain {GrainKey} refuses to serve: {Reason}")]
    private partial void LogMisplaced(string grainKey, string reason);
}
