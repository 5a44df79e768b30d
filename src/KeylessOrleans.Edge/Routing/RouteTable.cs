using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using KeylessOrleans.Cluster.Registry;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Edge.Routing;

/// <summary>
/// The edge's cache of the registry, answering "how do I serve this host name?". It holds only what this edge has
/// served: a name it has not seen is looked up on demand (the name's record, then its tenant's), and what the
/// <see cref="RegistryFeedFollower"/> reports changed is dropped and looked up again when next needed. Memory grows
/// with the tenants served, not with the fleet.
/// Only tenants the operator has set up are served, and only for names in their settings: a certificate covering a
/// name outside the tenant's list never routes that name. Chains come from two sources: federated tenants' are
/// fetched and checked by this edge (<see cref="TenantChainFollower"/>, admitted before their first route), the
/// others' are registered with the registry by their key servers (single-organization mode).
/// </summary>
internal sealed class RouteTable
{
    private readonly IRegistrySource _source;
    private readonly TimeProvider _time;
    private readonly RouteTableLimits _limits;
    private readonly TokenBucketRateLimiter _lookups;
    private readonly ConcurrentDictionary<string, NameEntry> _names = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, NameEntry> _misses = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TenantEntry> _tenants = new(StringComparer.Ordinal);

    /// <summary>
    /// The last settings read of each tenant served: kept across a change until the tenant is read again, so a
    /// handshake already routed still reaches the tenant's key servers; gone when it is removed or idle.
    /// </summary>
    private readonly ConcurrentDictionary<string, TenantSettings> _settings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Tenant, string Replica), ReplicaRegistration> _federated = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<string?>>> _nameLoads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<TenantRecord?>>> _tenantLoads = new(StringComparer.Ordinal);
    private Func<TenantSettings, CancellationToken, Task>? _admit;

    /// <summary>
    /// Change counters striped by the hash of a tenant or name: a read that started before a change to what it read
    /// must not be cached as current. Striped rather than global so changes elsewhere in a busy fleet do not turn
    /// every read stale; striped rather than per key so the counters stay a fixed size.
    /// </summary>
    private readonly long[] _changes = new long[ChangeStripes];
    private const int ChangeStripes = 1024;
    private long _followedAt = -1;

    public RouteTable(IRegistrySource source, TimeProvider time, RouteTableLimits? limits = null)
    {
        _source = source;
        _time = time;
        _limits = limits ?? new RouteTableLimits();
        _lookups = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = _limits.LookupsPerSecond,
            TokensPerPeriod = _limits.LookupsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
        });
    }

    /// <summary>Called when the edge stops serving a tenant (removed, or idle), so per-tenant state can go too.</summary>
    public event Action<string>? TenantDropped;

    /// <summary>Registry lookups refused by <see cref="RouteTableLimits.LookupsPerSecond"/> since start.</summary>
    public long ShedLookups => Interlocked.Read(ref _shed);

    private long _shed;

    /// <summary>Registry lookups that failed (storage unreachable, timeout) since start.</summary>
    public long FailedLookups => Interlocked.Read(ref _failed);

    private long _failed;

    /// <summary>True once the edge has read the registry's change feed: it knows when its cache goes stale.</summary>
    public bool IsLoaded => Interlocked.Read(ref _followedAt) >= 0;

    /// <summary>The feed position last applied (for health data).</summary>
    public FeedPosition Position { get; private set; }

    /// <summary>Where federated tenants' chains are fetched and checked before their first route.</summary>
    public void UseAdmission(Func<TenantSettings, CancellationToken, Task> admit) => _admit = admit;

    /// <summary>Drops what the feed says changed: the tenant, and the names the change added or removed.</summary>
    /// <remarks>
    /// The tenant's entry stays, marked stale: it is read again on its next handshake (or by <see cref="Refresh"/>), and
    /// until then it still answers what this edge serves (certificate expiry, readiness) and keeps the tenant from
    /// counting as idle.
    /// </remarks>
    public void Changed(RegistryChange change)
    {
        Interlocked.Increment(ref _changes[Stripe(change.Tenant)]);
        foreach (var name in change.HostNames.Select(HostNames.Normalize))
        {
            Interlocked.Increment(ref _changes[Stripe(name)]);
            _names.TryRemove(name, out _);
            _misses.TryRemove(name, out _);
        }
        // A new wildcard may answer names this edge had no answer for; those answers are few (bounded) and cheap to ask again.
        if (change.HostNames.Any(n => n.StartsWith("*.", StringComparison.Ordinal))) _misses.Clear();
        if (_tenants.TryGetValue(change.Tenant, out var entry)) entry.Stale = true;
        if (change.Removed) Forget(change.Tenant);
    }

    /// <summary>The feed cannot say what changed (it restarted, or this edge fell too far behind): everything is read again.</summary>
    public void StartOver()
    {
        for (var i = 0; i < _changes.Length; i++) Interlocked.Increment(ref _changes[i]);
        _names.Clear();
        _misses.Clear();
        foreach (var entry in _tenants.Values) entry.Stale = true;
    }

    /// <summary>
    /// Reads a changed tenant this edge serves again, off the handshake path, so renewed certificates and their expiry
    /// show without waiting for the tenant's next client. Does nothing for a tenant not served or already current.
    /// False when the registry could not be read (counted as a failed lookup; the next handshake tries again).
    /// </summary>
    public bool Refresh(string tenant)
    {
        if (!_tenants.TryGetValue(tenant, out var entry) || !entry.Stale) return true;
        try
        {
            TenantEntryOf(tenant);
            return true;
        }
        catch (RegistryUnavailableException)
        {
            return false;
        }
    }

    /// <summary>Records that the feed was read up to <paramref name="position"/>.</summary>
    public void Followed(FeedPosition position)
    {
        Position = position;
        Interlocked.Exchange(ref _followedAt, _time.GetTimestamp());
    }

    /// <summary>Forgets tenants not served for <see cref="RouteTableLimits.IdleTenant"/> and names older than <see cref="RouteTableLimits.NameLifetime"/>.</summary>
    public void Sweep()
    {
        var now = _time.GetTimestamp();
        foreach (var names in (ConcurrentDictionary<string, NameEntry>[])[_names, _misses])
            foreach (var (name, entry) in names)
                if (_time.GetElapsedTime(entry.LoadedAt, now) > _limits.NameLifetime) names.TryRemove(name, out _);
        foreach (var tenant in _settings.Keys)
        {
            var used = _tenants.TryGetValue(tenant, out var entry) && _time.GetElapsedTime(Volatile.Read(ref entry.LastUsed), now) <= _limits.IdleTenant;
            if (!used) Forget(tenant);
        }
    }

    /// <summary>The operator's settings for a tenant this edge serves, or null.</summary>
    public TenantSettings? Tenant(string tenant) => _settings.GetValueOrDefault(tenant);

    /// <summary>The tenants this edge serves now.</summary>
    public IReadOnlyCollection<TenantSettings> Tenants => _settings.Values.ToList();

    /// <summary>A federated replica's chains, after this edge checked them (names, key possession).</summary>
    public void SetFederatedReplica(ReplicaRegistration registration)
    {
        _federated[(registration.Tenant, registration.Replica)] = registration;
        if (_tenants.TryGetValue(registration.Tenant, out var entry)) entry.Routes.Clear();
    }

    /// <summary>Forgets a federated replica's admitted chains (its tenant is no longer served, or no longer lists it).</summary>
    public void RemoveFederatedReplica(string tenant, string replica) => _federated.TryRemove((tenant, replica), out _);

    /// <summary>The chains this edge admitted for one federated replica, or null.</summary>
    public ReplicaRegistration? FederatedReplica(string tenant, string replica) => _federated.GetValueOrDefault((tenant, replica));

    /// <summary>Every replica with chains this edge may serve, of the tenants it serves.</summary>
    public IReadOnlyList<ReplicaRegistration> Replicas => _tenants.Values.SelectMany(t => ReplicasOf(t.Record)).ToList();

    /// <summary>
    /// Every certificate of the tenants this edge serves, by tenant, host name and key, with the earliest NotAfter among
    /// the replicas holding it: the date by which the operator must see a renewal.
    /// </summary>
    public IEnumerable<CertificateExpiry> CertificateExpiries() =>
        Replicas
            .SelectMany(r => r.Chains.SelectMany(c => c.HostNames.Select(h => (r.Tenant, HostName: h, c.KeyId, c.NotAfter))))
            .GroupBy(e => (e.Tenant, e.HostName, e.KeyId))
            .Select(g => new CertificateExpiry(g.Key.Tenant, g.Key.HostName, g.Key.KeyId, g.Min(e => e.NotAfter)));

    /// <summary>Tenants this edge serves whose key servers have none registered: their names cannot be served.</summary>
    public IReadOnlyList<string> TenantsWithoutKeyServer() =>
        _tenants.Values.Where(t => !ReplicasOf(t.Record).Any(r => r.Chains.Count > 0)).Select(t => t.Record.Settings.Tenant)
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>Host names and wildcards whose answer (tenant or none) this edge holds now.</summary>
    public int CachedNames => _names.Count + _misses.Count;

    /// <summary>Tenants this edge serves now.</summary>
    public int CachedTenants => _settings.Count;

    /// <summary>
    /// The route for a host name, or null when no tenant serves it. Blocks for a registry lookup on a miss: callers are
    /// handshake threads, which block on key operations anyway. Throws <see cref="RegistryUnavailableException"/> when
    /// the answer needed a registry read that failed or was over the edge's limit: the name may well be served.
    /// </summary>
    public EdgeRoute? Resolve(string hostName)
    {
        var host = HostNames.Normalize(hostName);
        foreach (var key in HostNameLookup.Keys(host))
        {
            if (Holder(key) is not { } holder) continue;
            if (TenantEntryOf(holder) is not { } tenant) continue;
            if (!tenant.Record.Settings.HostNames.Any(n => HostNames.Normalize(n) == key)) continue;
            Volatile.Write(ref tenant.LastUsed, _time.GetTimestamp());
            return tenant.Routes.TryGetValue(host, out var cached) ? cached : Route(tenant, host);
        }
        return null;
    }

    private EdgeRoute Route(TenantEntry tenant, string host)
    {
        var settings = tenant.Record.Settings;
        if (settings.IsFederated && _admit is { } admit && !settings.KeyServers!.Any(k => _federated.ContainsKey((settings.Tenant, k.Replica))))
        {
            // First route of a federated tenant: its chains are fetched and checked now, within the lookup deadline.
            try
            {
                using var deadline = new CancellationTokenSource(_limits.AdmissionTimeout);
                // Started on the thread pool like every grain call a handshake thread waits for (see HandshakeGrainGateway).
                Task.Run(() => admit(settings, deadline.Token), deadline.Token).Wait(deadline.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or AggregateException)
            {
                Interlocked.Increment(ref _failed);
            }
        }
        var found = HostRouting.Find(ReplicasOf(tenant.Record), host);
        // A name of a tenant whose key servers have all gone (or never came): a known name with no usable key, which
        // the TLS server answers with internal_error rather than unrecognized_name.
        var route = new EdgeRoute(host, found ?? new HostRoute(settings.Tenant, host, []), settings);
        if (tenant.Routes.Count < _limits.RoutesPerTenant) tenant.Routes.TryAdd(host, route);
        return route;
    }

    /// <summary>Self-registered replicas for tenants without recorded key servers; a federated tenant's are the ones this edge checked.</summary>
    private IEnumerable<ReplicaRegistration> ReplicasOf(TenantRecord record) =>
        record.Settings.IsFederated
            ? record.Settings.KeyServers!.Select(k => _federated.GetValueOrDefault((record.Settings.Tenant, k.Replica))).OfType<ReplicaRegistration>()
            : record.Replicas;

    private string? Holder(string key)
    {
        if (_names.TryGetValue(key, out var known)) return known.Tenant;
        if (_misses.ContainsKey(key)) return null;
        var changes = Interlocked.Read(ref _changes[Stripe(key)]);
        var holder = Load(_nameLoads, key, () => _source.HostNameHolderAsync(key));
        if (Interlocked.Read(ref _changes[Stripe(key)]) == changes)
        {
            var (names, cap) = holder is null ? (_misses, _limits.MaxCachedMisses) : (_names, _limits.MaxCachedNames);
            MakeRoom(names, cap);
            names[key] = new NameEntry(holder, _time.GetTimestamp());
        }
        return holder;
    }

    private TenantEntry? TenantEntryOf(string tenant)
    {
        var known = _tenants.GetValueOrDefault(tenant);
        if (known is { Stale: false }) return known;
        var changes = Interlocked.Read(ref _changes[Stripe(tenant)]);
        var record = Load(_tenantLoads, tenant, () => _source.TenantAsync(tenant));
        // Read before a change to this tenant was applied: served and kept, but read again next time.
        var current = Interlocked.Read(ref _changes[Stripe(tenant)]) == changes;
        if (record is null)
        {
            if (current) Forget(tenant);
            return null;
        }
        var entry = new TenantEntry(record, known is null ? _time.GetTimestamp() : Volatile.Read(ref known.LastUsed)) { Stale = !current };
        if (known is null && !current) return entry; // perhaps removed meanwhile: this handshake only, never cached
        if (known is null ? !_tenants.TryAdd(tenant, entry) : !_tenants.TryUpdate(tenant, entry, known))
            return _tenants.GetValueOrDefault(tenant) ?? entry; // another thread stored its read first
        _settings[tenant] = entry.Record.Settings;
        return entry;
    }

    private static int Stripe(string key) => (int)((uint)StringComparer.Ordinal.GetHashCode(key) % ChangeStripes);

    /// <summary>At the cap, forgets the oldest tenth, so the cache keeps working for what is asked now.</summary>
    private static void MakeRoom(ConcurrentDictionary<string, NameEntry> names, int cap)
    {
        if (names.Count < cap) return;
        foreach (var victim in names.OrderBy(e => e.Value.LoadedAt).Take(Math.Max(1, cap / 10)).ToList()) names.TryRemove(victim.Key, out _);
    }

    /// <summary>One registry read per key at a time, shared by every handshake waiting for it.</summary>
    private T Load<T>(ConcurrentDictionary<string, Lazy<Task<T>>> loads, string key, Func<Task<T>> read)
    {
        var lazy = new Lazy<Task<T>>(() =>
        {
            using var lease = _lookups.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                Interlocked.Increment(ref _shed);
                return Task.FromException<T>(new RegistryLookupShedException());
            }
            return read();
        });
        var shared = loads.GetOrAdd(key, lazy);
        try
        {
            return shared.Value.WaitAsync(_limits.LookupTimeout).GetAwaiter().GetResult();
        }
        catch (RegistryLookupShedException e)
        {
            throw new RegistryUnavailableException(e.Message, e);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _failed);
            throw new RegistryUnavailableException($"the registry could not be read ({e.GetType().Name})", e);
        }
        finally
        {
            if (ReferenceEquals(shared, lazy) || shared.Value.IsCompleted) loads.TryRemove(new KeyValuePair<string, Lazy<Task<T>>>(key, shared));
        }
    }

    /// <summary>The tenant is not served any more (removed, or idle): everything held for it goes.</summary>
    private void Forget(string tenant)
    {
        _tenants.TryRemove(tenant, out _);
        if (_settings.TryRemove(tenant, out _)) TenantDropped?.Invoke(tenant);
    }

    private sealed class RegistryLookupShedException() : Exception("registry lookups over the edge's limit");

    private sealed record NameEntry(string? Tenant, long LoadedAt);

    private sealed class TenantEntry(TenantRecord record, long now)
    {
        public TenantRecord Record { get; } = record;
        public long LastUsed = now;
        public volatile bool Stale;
        public ConcurrentDictionary<string, EdgeRoute> Routes { get; } = new(StringComparer.Ordinal);
    }
}

/// <summary>A name could not be resolved because the registry could not be read (failed, timed out, or over the edge's limit).</summary>
internal sealed class RegistryUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>Bounds of an edge's route cache.</summary>
internal sealed record RouteTableLimits
{
    /// <summary>Host names and wildcards kept that a tenant holds.</summary>
    public int MaxCachedNames { get; init; } = 200_000;

    /// <summary>Names kept that no tenant holds (clients choose these: random names must not grow memory).</summary>
    public int MaxCachedMisses { get; init; } = 10_000;

    /// <summary>Routes kept per tenant (names under a wildcard are chosen by clients).</summary>
    public int RoutesPerTenant { get; init; } = 1_000;

    /// <summary>Registry reads on misses per second; beyond it a name no cache entry answers is refused.</summary>
    public int LookupsPerSecond { get; init; } = 2_000;

    /// <summary>How long a handshake waits for a registry read.</summary>
    public TimeSpan LookupTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a name's answer is kept without a change on the feed (a bound should a change be missed).</summary>
    public TimeSpan NameLifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a federated tenant's first handshake waits for its chains: no longer than it would wait for a key
    /// operation, so a tenant whose key servers hang costs its own handshakes one deadline and no more.
    /// </summary>
    public TimeSpan AdmissionTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A tenant not served for this long is forgotten.</summary>
    public TimeSpan IdleTenant { get; init; } = TimeSpan.FromMinutes(10);
}
