using System.Collections.Concurrent;
using KeylessOrleans.Cluster.Registry;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Edge.Routing;

/// <summary>
/// The edge's copy of the registry, answering "how do I serve this host name?" without a grain call per
/// handshake. Only tenants the operator has set up are served, and only for names in their settings:
/// a certificate covering a name outside the tenant's list never routes that name.
/// Chains come from two sources: tenants with recorded key servers (federated) have theirs fetched and checked by
/// this edge (<see cref="TenantChainFollower"/>, <see cref="SetFederatedReplica"/>); in single-organization mode the
/// others register theirs with the registry, and its snapshot carries them.
/// </summary>
public sealed class RouteTable
{
    private readonly Lock _writer = new();
    private volatile State _state = new(null, new Dictionary<string, TenantSettings>(), new Dictionary<(string, string), ReplicaRegistration>());

    /// <summary>The registry version this table reflects; -1 before the first snapshot.</summary>
    public long Version => _state.Snapshot?.Version ?? -1;

    public bool IsLoaded => _state.Snapshot is not null;

    public void Apply(RegistrySnapshot snapshot)
    {
        lock (_writer)
        {
            var tenants = snapshot.Tenants.ToDictionary(t => t.Tenant, StringComparer.Ordinal);
            // Checked chains of replicas the operator no longer lists (or of removed tenants) go with the snapshot.
            var federated = _state.Federated
                .Where(r => tenants.TryGetValue(r.Key.Item1, out var t) && t.IsFederated && t.KeyServers!.Any(k => k.Replica == r.Key.Item2))
                .ToDictionary();
            _state = new State(snapshot, tenants, federated);
        }
    }

    /// <summary>The operator's settings for <paramref name="tenant"/>, or null when it has none.</summary>
    public TenantSettings? Tenant(string tenant) => _state.Tenants.GetValueOrDefault(tenant);

    /// <summary>Every tenant the operator has set up.</summary>
    public IReadOnlyCollection<TenantSettings> Tenants => _state.Tenants.Values;

    /// <summary>A federated replica's chains, after this edge checked them (names, key possession).</summary>
    public void SetFederatedReplica(ReplicaRegistration registration)
    {
        lock (_writer)
        {
            var state = _state;
            var federated = new Dictionary<(string, string), ReplicaRegistration>(state.Federated) { [(registration.Tenant, registration.Replica)] = registration };
            _state = new State(state.Snapshot, state.Tenants, federated);
        }
    }

    /// <summary>The chains this edge admitted for one federated replica, or null.</summary>
    public ReplicaRegistration? FederatedReplica(string tenant, string replica) => _state.Federated.GetValueOrDefault((tenant, replica));

    /// <summary>Every replica with chains this edge may serve, of either source.</summary>
    public IReadOnlyList<ReplicaRegistration> Replicas => _state.Replicas;

    /// <summary>
    /// Every registered certificate by tenant, host name and key, with the earliest NotAfter among the replicas
    /// holding it: the date by which the operator must see a renewal.
    /// </summary>
    public IEnumerable<CertificateExpiry> CertificateExpiries()
    {
        var state = _state;
        if (state.Snapshot is null) return [];
        return state.Replicas
            .SelectMany(r => r.Chains.SelectMany(c => c.HostNames.Select(h => (r.Tenant, HostName: h, c.KeyId, c.NotAfter))))
            .GroupBy(e => (e.Tenant, e.HostName, e.KeyId))
            .Select(g => new CertificateExpiry(g.Key.Tenant, g.Key.HostName, g.Key.KeyId, g.Min(e => e.NotAfter)));
    }

    /// <summary>Tenants the operator set up whose key servers have none registered: their names cannot be served.</summary>
    public IReadOnlyList<string> TenantsWithoutKeyServer()
    {
        var state = _state;
        if (state.Snapshot is null) return [];
        var served = state.Replicas.Select(r => r.Tenant).ToHashSet(StringComparer.Ordinal);
        return state.Snapshot.Tenants.Select(t => t.Tenant).Where(t => !served.Contains(t)).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// How many resolved names one registry version keeps. Clients choose the names: random ones (misses, or names
    /// under a wildcard) would otherwise fill memory until the next registry change. Beyond the cap a name is
    /// resolved each time and not kept.
    /// </summary>
    public const int MaxCachedNames = 10_000;

    /// <summary>How many resolved names (routes and misses) the table keeps now; at most <see cref="MaxCachedNames"/>.</summary>
    public int CachedNames => _state.Routes.Count;

    public EdgeRoute? Resolve(string hostName)
    {
        var state = _state;
        var host = HostNames.Normalize(hostName);
        if (state.Routes.TryGetValue(host, out var cached)) return cached;
        var route = state.Compute(host);
        if (Interlocked.Increment(ref state.Cached) <= MaxCachedNames) state.Routes.TryAdd(host, route);
        return route;
    }

    private sealed class State(
        RegistrySnapshot? snapshot, Dictionary<string, TenantSettings> tenants, Dictionary<(string, string), ReplicaRegistration> federated)
    {
        public RegistrySnapshot? Snapshot { get; } = snapshot;
        public Dictionary<string, TenantSettings> Tenants { get; } = tenants;
        public Dictionary<(string, string), ReplicaRegistration> Federated { get; } = federated;

        /// <summary>
        /// Self-registered replicas count only for tenants without recorded key servers; a federated tenant's chains
        /// are the ones this edge checked.
        /// </summary>
        public IReadOnlyList<ReplicaRegistration> Replicas { get; } =
        [
            .. (snapshot?.Replicas ?? []).Where(r => !(tenants.TryGetValue(r.Tenant, out var t) && t.IsFederated)),
            .. federated.Values,
        ];

        public ConcurrentDictionary<string, EdgeRoute?> Routes { get; } = new(StringComparer.Ordinal);

        /// <summary>Names offered to <see cref="Routes"/> (an upper bound of its size: racing callers may offer one name twice).</summary>
        public int Cached;

        public EdgeRoute? Compute(string host)
        {
            if (Snapshot is null) return null;
            var owners = Tenants.Values.Where(t => t.HostNames.Any(pattern => HostNames.Matches(pattern, host))).ToList();
            if (owners.Count == 0) return null; // no tenant was given this name: no need to look at certificates

            var route = HostRouting.Find(Replicas.Where(r => owners.Any(t => t.Tenant == r.Tenant)), host);
            if (route is not null) return new EdgeRoute(host, route, Tenants[route.Tenant]);

            // The name belongs to a tenant whose key servers have all gone (or never came): a known name
            // with no usable key, which the TLS server answers with internal_error rather than unrecognized_name.
            return new EdgeRoute(host, new HostRoute(owners[0].Tenant, host, []), owners[0]);
        }
    }
}
