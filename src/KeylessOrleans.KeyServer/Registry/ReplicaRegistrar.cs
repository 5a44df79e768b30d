using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace KeylessOrleans.KeyServer.Registry;

/// <summary>
/// Announces this replica and the public chains of its keys to the registry at start, again every
/// <see cref="KeyServerOptions.RegistrationInterval"/> (so a registry that lost its state heals), at once when the
/// key folder changes (hot reload), and withdraws it on a graceful stop. Retries quickly while no edge is up to host the registry.
/// </summary>
internal sealed partial class ReplicaRegistrar(
    IGrainFactory grains,
    IKeyStore store,
    IOptions<KeyServerOptions> options,
    RegistrationState state,
    ILogger<ReplicaRegistrar> logger) : BackgroundService
{
    /// <remarks>
    /// A chain whose key is gone was read just before a reload swapped the key out; it is left out, and the
    /// reload's signal makes the registrar describe the store again at once.
    /// </remarks>
    public static ReplicaRegistration Describe(string tenant, string replica, IKeyStore store) =>
        new(tenant, replica, store.Chains
            .Select(chain => (Chain: chain, Key: store.TryGetKey(chain.KeyId, out var key) ? key : null))
            .Where(pair => pair.Key is not null)
            .Select(pair => new CertificateChainRegistration(
                pair.Chain.KeyId,
                pair.Key!.Algorithm,
                pair.Chain.Certificates.Select(c => c.RawData).ToList(),
                HostNames.Of(pair.Chain.EndEntity),
                pair.Chain.EndEntity.NotAfter.ToUniversalTime())).ToList());

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var registered = false;
        string? lastRefusal = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            // Taken before describing the store, so a reload during the call is never missed.
            var reloaded = store.GetReloadToken();
            var registration = Describe(settings.Tenant, settings.Replica, store);
            try
            {
                var version = await Registry.RegisterReplicaAsync(registration).WaitAsync(TimeSpan.FromSeconds(10), stoppingToken);
                if (!registered) LogRegistered(settings.Tenant, settings.Replica, registration.Chains.Count, version);
                registered = true;
                state.Succeeded();
                lastRefusal = null;
                if (await UntilChangedAsync(reloaded, settings.RegistrationInterval, stoppingToken)) registered = false; // say the new registration
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (ArgumentException e)
            {
                // Refused (e.g. tenant not added yet, a certificate for a name the tenant was not given):
                // say it once, keep trying so the replica comes up as soon as the operator fixes it.
                registered = false;
                state.Failed($"registry refused: {e.Message}");
                if (e.Message != lastRefusal) LogRegistrationRefused(settings.Tenant, settings.Replica, e.Message);
                lastRefusal = e.Message;
                await Task.Delay(settings.RegistrationRetryDelay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            catch (Exception e)
            {
                registered = false;
                state.Failed($"registry unreachable ({e.GetType().Name})");
                LogRegistrationFailed(settings.Tenant, settings.Replica, e.GetType().Name, e.Message);
                await Task.Delay(settings.RegistrationRetryDelay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Waits out the re-registration interval, or less when the key folder changes (then true).</summary>
    private static async Task<bool> UntilChangedAsync(IChangeToken reloaded, TimeSpan interval, CancellationToken stoppingToken)
    {
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = reloaded.RegisterChangeCallback(static state => ((TaskCompletionSource)state!).TrySetResult(), changed);
        await Task.WhenAny(changed.Task, Task.Delay(interval, stoppingToken));
        stoppingToken.ThrowIfCancellationRequested();
        return changed.Task.IsCompleted;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        state.Failed("stopping"); // a stopping replica should get no new work, so readiness drops before the withdrawal
        try
        {
            await Registry.UnregisterReplicaAsync(options.Value.Tenant, options.Value.Replica).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
        }
        catch (Exception e)
        {
            // A stopping replica that cannot reach the registry is found out by the edges' failover instead.
            LogUnregisterFailed(options.Value.Tenant, options.Value.Replica, e.GetType().Name);
        }
    }

    private IRegistryGrain Registry => grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);

    [LoggerMessage(EventId = EventIds.ReplicaRegistered, Level = LogLevel.Information, Message = "Replica {Tenant}/{Replica} registered {ChainCount} certificate chains (tenant version {Version})")]
    private partial void LogRegistered(string tenant, string replica, int chainCount, long version);

    [LoggerMessage(EventId = EventIds.ReplicaRegistrationRetrying, Level = LogLevel.Warning, Message = "Replica {Tenant}/{Replica} could not register yet ({Error}: {Message}); retrying")]
    private partial void LogRegistrationFailed(string tenant, string replica, string error, string message);

    [LoggerMessage(EventId = EventIds.ReplicaRegistrationRefused, Level = LogLevel.Error, Message = "Registry refused replica {Tenant}/{Replica}: {Reason}")]
    private partial void LogRegistrationRefused(string tenant, string replica, string reason);

    [LoggerMessage(EventId = EventIds.ReplicaUnregisterFailed, Level = LogLevel.Warning, Message = "Replica {Tenant}/{Replica} could not unregister on stop ({Error})")]
    private partial void LogUnregisterFailed(string tenant, string replica, string error);
}
