using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>
/// The tenant registry. Holds public data only (certificate chains, key ids, replica names). State goes to the
/// "keyless-registry" grain storage: in memory for the embedded cluster, Redis for multi-host.
/// </summary>
public sealed partial class RegistryGrain(
    [PersistentState("registry", RegistryStorage.Name)] IPersistentState<RegistryState> state,
    ILogger<RegistryGrain> logger) : Grain, IRegistryGrain
{
    private readonly Dictionary<string, string> _lastRefusals = [];

    public async Task<long> RegisterReplicaAsync(ReplicaRegistration registration)
    {
        var problem = Validate(registration) ?? CheckAgainstTenant(registration) ?? await ProveKeysAsync(registration);
        var replicaKey = $"{registration.Tenant}/{registration.Replica}";
        if (problem is not null)
        {
            // Replicas retry every second: say each distinct refusal once.
            if (!_lastRefusals.TryGetValue(replicaKey, out var last) || last != problem) LogRejected(registration.Tenant, registration.Replica, problem);
            _lastRefusals[replicaKey] = problem;
            throw new ArgumentException(problem, nameof(registration));
        }
        _lastRefusals.Remove(replicaKey);

        var key = $"{registration.Tenant}/{registration.Replica}";
        if (state.State.Replicas.TryGetValue(key, out var existing)
            && RegistrationFingerprint.Of(existing).AsSpan().SequenceEqual(RegistrationFingerprint.Of(registration)))
        {
            return state.State.Version; // a periodic re-announcement that changes nothing
        }

        state.State.Replicas[key] = RegistryState.Storable(registration);
        state.State.Version++;
        await state.WriteStateAsync();
        LogRegistered(registration.Tenant, registration.Replica, registration.Chains.Count, state.State.Version);
        return state.State.Version;
    }

    public async Task<long> UnregisterReplicaAsync(string tenant, string replica)
    {
        if (state.State.Replicas.Remove($"{tenant}/{replica}"))
        {
            state.State.Version++;
            await state.WriteStateAsync();
            LogUnregistered(tenant, replica, state.State.Version);
        }
        return state.State.Version;
    }

    public async Task<long> SetTenantAsync(TenantSettings settings)
    {
        var problem = Validate(settings);
        if (problem is not null)
        {
            LogTenantRejected(settings.Tenant, problem);
            throw new ArgumentException(problem, nameof(settings));
        }
        if (state.State.Tenants.TryGetValue(settings.Tenant, out var existing) && existing.SameAs(settings))
            return state.State.Version;

        state.State.Tenants[settings.Tenant] = RegistryState.Storable(settings);
        state.State.Version++;
        await state.WriteStateAsync();
        LogTenantSet(settings.Tenant, settings.HostNames.Count, settings.Origin.Host, settings.Origin.Port, state.State.Version);
        return state.State.Version;
    }

    public async Task<long> RemoveTenantAsync(string tenant)
    {
        if (state.State.Tenants.Remove(tenant))
        {
            foreach (var key in state.State.Replicas.Where(r => r.Value.Tenant == tenant).Select(r => r.Key).ToList())
                state.State.Replicas.Remove(key);
            state.State.Version++;
            await state.WriteStateAsync();
            LogTenantRemoved(tenant, state.State.Version);
        }
        return state.State.Version;
    }

    public Task<HostRoute?> LookupHostAsync(string hostName) =>
        Task.FromResult(HostRouting.Find(state.State.Replicas.Values, hostName));

    public Task<RegistrySnapshot?> GetSnapshotIfChangedAsync(long knownVersion) =>
        Task.FromResult(knownVersion == state.State.Version
            ? null
            : new RegistrySnapshot(state.State.Version, state.State.Replicas.Values.ToList(), state.State.Tenants.Values.ToList()));

    private static string? Validate(TenantSettings settings)
    {
        if (!KeyGrainKey.IsValidName(settings.Tenant)) return "tenant name is not valid";
        if (settings.HostNames.Count == 0) return "a tenant needs at least one host name";
        if (settings.HostNames.Any(h => string.IsNullOrWhiteSpace(h) || h.Contains('/') || h.Contains(' ')))
            return "host names must be DNS names or *.wildcards";
        if (string.IsNullOrWhiteSpace(settings.Origin.Host)) return "origin host is empty";
        if (settings.Origin.Port is < 1 or > 65535) return $"origin port {settings.Origin.Port} is out of range";
        foreach (var server in settings.KeyServers ?? [])
        {
            if (!KeyGrainKey.IsValidName(server.Replica)) return $"key-server replica name '{server.Replica}' is not valid";
            if (!IsHostAndPort(server.Gateway)) return $"key-server gateway '{server.Gateway}' of replica {server.Replica} is not host:port";
        }
        if ((settings.KeyServers ?? []).Select(k => k.Replica).Distinct().Count() != (settings.KeyServers?.Count ?? 0))
            return "key-server replica names must differ";
        if (settings.KeyServerCa is { Length: > 0 } ca)
        {
            try
            {
                using var certificate = X509Certificate2.CreateFromPem(ca);
            }
            catch (CryptographicException)
            {
                return "the key-server CA is not a PEM certificate";
            }
        }
        return null;
    }

    private static bool IsHostAndPort(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], out var port) || port is < 1 or > 65535) return false;
        return Uri.CheckHostName(value[..colon].Trim('[', ']')) != UriHostNameType.Unknown;
    }

    /// <summary>A replica may only announce certificates for names the operator gave its tenant.</summary>
    private string? CheckAgainstTenant(ReplicaRegistration registration)
    {
        if (!state.State.Tenants.TryGetValue(registration.Tenant, out var tenant))
            return $"tenant {registration.Tenant} has not been added by the operator";
        foreach (var chain in registration.Chains)
        {
            var outside = chain.HostNames.FirstOrDefault(name => !tenant.HostNames.Any(pattern => HostNames.Covers(pattern, name)));
            if (outside is not null)
                return $"the certificate of key {chain.KeyId[..16]}… covers {outside}, which tenant {registration.Tenant} was not given (allowed: {string.Join(", ", tenant.HostNames)})";
        }
        return null;
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

    private static string? Validate(ReplicaRegistration r)
    {
        if (!KeyGrainKey.IsValidName(r.Tenant)) return "tenant name is not valid";
        if (!KeyGrainKey.IsValidName(r.Replica)) return "replica name is not valid";
        foreach (var chain in r.Chains)
        {
            if (!KeyIds.IsWellFormed(chain.KeyId)) return $"key id '{chain.KeyId}' is not a SHA-256 hex digest";
            if (chain.ChainDer.Count == 0) return $"key {chain.KeyId} has an empty certificate chain";
        }
        return null;
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Registered replica {Tenant}/{Replica} with {ChainCount} certificate chains (registry version {Version})")]
    private partial void LogRegistered(string tenant, string replica, int chainCount, long version);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Unregistered replica {Tenant}/{Replica} (registry version {Version})")]
    private partial void LogUnregistered(string tenant, string replica, long version);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Tenant {Tenant} set: {HostCount} host names, origin {OriginHost}:{OriginPort} (registry version {Version})")]
    private partial void LogTenantSet(string tenant, int hostCount, string originHost, int originPort, long version);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "Tenant {Tenant} removed (registry version {Version})")]
    private partial void LogTenantRemoved(string tenant, long version);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "Refused settings for tenant {Tenant}: {Reason}")]
    private partial void LogTenantRejected(string tenant, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Refused registration of replica {Tenant}/{Replica}: {Reason}")]
    private partial void LogRejected(string tenant, string replica, string reason);
}

public static class RegistryStorage
{
    /// <summary>The grain storage name the registry persists to.</summary>
    public const string Name = "keyless-registry";
}
