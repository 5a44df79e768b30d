using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Diagnostics;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>
/// One tenant: the operator's settings and the replicas that registered themselves. Holds public data only
/// (certificate chains, key ids, replica names). A change claims or releases the host names it adds or drops
/// (<see cref="IHostNameGrain"/>), writes this tenant alone, and tells the feed (<see cref="IRegistryFeedGrain"/>).
/// </summary>
[GrainType(RegistryGrainTypes.Tenant)]
// Reads come from storage, not from activations: an activation is needed only while its record changes, so it
// goes soon after (a fleet-wide import would otherwise keep a million of them in the edges' memory).
[CollectionAgeLimit(Minutes = 2)]
internal sealed partial class TenantGrain(
    [PersistentState(RegistryGrainTypes.TenantState, RegistryStorage.Name)] IPersistentState<TenantState> state,
    ILogger<TenantGrain> logger) : Grain, ITenantGrain
{
    private readonly Dictionary<string, string> _lastRefusals = [];

    private string Name => this.GetPrimaryKeyString();

    public async Task<long> SetAsync(TenantSettings settings)
    {
        var problem = settings.Tenant != Name ? "the settings name another tenant" : RegistryRules.Problem(settings);
        if (problem is not null)
        {
            LogTenantRejected(settings.Tenant, problem);
            throw new ArgumentException(problem, nameof(settings));
        }
        var existing = state.State.Settings;
        if (existing is not null && existing.SameAs(settings)) return state.State.Version;

        var before = NamesOf(existing);
        var after = NamesOf(settings);
        var added = after.Except(before).ToList();
        var dropped = before.Except(after).ToList();

        var claims = await Task.WhenAll(added.Select(async name => (Name: name, Holder: await HostName(name).ClaimAsync(Name))));
        if (claims.FirstOrDefault(c => c.Holder is not null) is { Name: not null } taken)
        {
            await Task.WhenAll(claims.Where(c => c.Holder is null).Select(c => HostName(c.Name).ReleaseAsync(Name)));
            problem = $"host name {taken.Name} is given to tenant {taken.Holder}; remove it there first";
            LogTenantRejected(settings.Tenant, problem);
            throw new ArgumentException(problem, nameof(settings));
        }
        if (existing is null) await Directory.AddAsync(Name);

        state.State.Settings = TenantState.Storable(settings);
        state.State.Version++;
        await state.WriteStateAsync();
        await Task.WhenAll(dropped.Select(name => HostName(name).ReleaseAsync(Name)));
        LogTenantSet(Name, settings.HostNames.Count, settings.Origin.Host, settings.Origin.Port, state.State.Version);
        await PublishAsync([.. added, .. dropped]);
        return state.State.Version;
    }

    public async Task<long> RemoveAsync()
    {
        if (state.State.Settings is not { } existing) return state.State.Version;
        var names = NamesOf(existing);
        state.State.Settings = null;
        state.State.Replicas.Clear();
        state.State.Version++;
        await state.WriteStateAsync();
        await Task.WhenAll(names.Select(name => HostName(name).ReleaseAsync(Name)));
        await Directory.RemoveAsync(Name);
        LogTenantRemoved(Name, state.State.Version);
        await PublishAsync([.. names], removed: true);
        return state.State.Version;
    }

    public async Task<long> RegisterReplicaAsync(ReplicaRegistration registration)
    {
        var problem = registration.Tenant != Name ? "the registration names another tenant"
            : RegistryRules.Problem(registration)
              ?? (state.State.Settings is { } tenant ? RegistryRules.OutsideTenant(tenant, registration) : $"tenant {Name} has not been added by the operator")
              ?? await ProveKeysAsync(registration);
        if (problem is not null)
        {
            // Replicas retry every second: say each distinct refusal once.
            if (!_lastRefusals.TryGetValue(registration.Replica, out var last) || last != problem) LogRejected(Name, registration.Replica, problem);
            _lastRefusals[registration.Replica] = problem;
            throw new ArgumentException(problem, nameof(registration));
        }
        _lastRefusals.Remove(registration.Replica);

        if (state.State.Replicas.TryGetValue(registration.Replica, out var existing)
            && RegistrationFingerprint.Of(existing).AsSpan().SequenceEqual(RegistrationFingerprint.Of(registration)))
        {
            return state.State.Version; // a periodic re-announcement that changes nothing
        }

        state.State.Replicas[registration.Replica] = TenantState.Storable(registration);
        state.State.Version++;
        await state.WriteStateAsync();
        LogRegistered(Name, registration.Replica, registration.Chains.Count, state.State.Version);
        await PublishAsync([]);
        return state.State.Version;
    }

    public async Task<long> UnregisterReplicaAsync(string replica)
    {
        if (state.State.Replicas.Remove(replica))
        {
            state.State.Version++;
            await state.WriteStateAsync();
            LogUnregistered(Name, replica, state.State.Version);
            await PublishAsync([]);
        }
        return state.State.Version;
    }

    private static HashSet<string> NamesOf(TenantSettings? settings) =>
        (settings?.HostNames ?? []).Select(HostNames.Normalize).ToHashSet(StringComparer.Ordinal);

    private IHostNameGrain HostName(string name) => GrainFactory.GetGrain<IHostNameGrain>(name);

    private ITenantDirectoryGrain Directory => GrainFactory.GetGrain<ITenantDirectoryGrain>(RegistryGrainTypes.DirectoryShard(Name));

    /// <summary>
    /// The change is stored whatever happens here: an edge that misses it (the feed's silo died with it) starts over
    /// when the feed comes back with another epoch.
    /// </summary>
    private async Task PublishAsync(IReadOnlyList<string> hostNames, bool removed = false)
    {
        try
        {
            await GrainFactory.GetGrain<IRegistryFeedGrain>(IRegistryGrain.DefaultKey).PublishAsync(Name, hostNames, removed).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            LogFeedUnreachable(Name, e.GetType().Name);
        }
    }

    /// <summary>
    /// Asks the key grain of the registering replica to describe each key: it answers only from that replica's
    /// silo (placement filter), so a matching public key proves the key is really there.
    /// </summary>
    private async Task<string?> ProveKeysAsync(ReplicaRegistration registration)
    {
        foreach (var chain in registration.Chains)
        {
            byte[] certificateKey;
            try
            {
                using var certificate = X509CertificateLoader.LoadCertificate(chain.ChainDer[0]);
                certificateKey = certificate.PublicKey.ExportSubjectPublicKeyInfo();
            }
            catch (CryptographicException)
            {
                return $"the end-entity certificate of key {chain.KeyId[..16]}… cannot be parsed";
            }
            if (KeyIds.FromSubjectPublicKeyInfo(certificateKey) != chain.KeyId)
                return $"key id {chain.KeyId[..16]}… does not match its certificate's public key";

            var keyGrain = GrainFactory.GetGrain<IKeyGrain>(new KeyGrainKey(registration.Tenant, registration.Replica, chain.KeyId).ToString());
            KeyDescriptionResult described;
            try
            {
                described = await keyGrain.DescribeAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                return $"replica {registration.Tenant}/{registration.Replica} could not be asked about key {chain.KeyId[..16]}… ({e.GetType().Name})";
            }
            if (described.Description?.SubjectPublicKeyInfo is not { } held || !held.AsSpan().SequenceEqual(certificateKey))
                return $"replica {registration.Tenant}/{registration.Replica} does not hold the private key of the certificate for {string.Join(", ", chain.HostNames)}";
        }
        return null;
    }

    [LoggerMessage(EventId = EventIds.ReplicaRegistered, Level = LogLevel.Information, Message = "Registered replica {Tenant}/{Replica} with {ChainCount} certificate chains (tenant version {Version})")]
    private partial void LogRegistered(string tenant, string replica, int chainCount, long version);

    [LoggerMessage(EventId = EventIds.ReplicaUnregistered, Level = LogLevel.Information, Message = "Unregistered replica {Tenant}/{Replica} (tenant version {Version})")]
    private partial void LogUnregistered(string tenant, string replica, long version);

    [LoggerMessage(EventId = EventIds.ReplicaRegistrationRefused, Level = LogLevel.Warning, Message = "Refused registration of replica {Tenant}/{Replica}: {Reason}")]
    private partial void LogRejected(string tenant, string replica, string reason);

    [LoggerMessage(EventId = EventIds.TenantSet, Level = LogLevel.Information, Message = "Tenant {Tenant} set: {HostCount} host names, origin {OriginHost}:{OriginPort} (tenant version {Version})")]
    private partial void LogTenantSet(string tenant, int hostCount, string originHost, int originPort, long version);

    [LoggerMessage(EventId = EventIds.TenantRemoved, Level = LogLevel.Information, Message = "Tenant {Tenant} removed (tenant version {Version})")]
    private partial void LogTenantRemoved(string tenant, long version);

    [LoggerMessage(EventId = EventIds.TenantSettingsRefused, Level = LogLevel.Warning, Message = "Refused settings for tenant {Tenant}: {Reason}")]
    private partial void LogTenantRejected(string tenant, string reason);

    [LoggerMessage(EventId = EventIds.RegistryFeedUnreachable, Level = LogLevel.Warning, Message = "Registry feed unreachable ({Error}) after a change of tenant {Tenant}; edges catch up when it returns")]
    private partial void LogFeedUnreachable(string tenant, string error);
}
