using System.Collections.Concurrent;
using KeylessOrleans.Cluster.Registry;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Edge.Routing;

/// <summary>
/// The edge's copy of the registry, answering "how do I serve this host name?" without a grain call per
/// handshake. Only tenants the operator has set up are served, and only for names in their settings:
/// a certificate covering a name outside the tenant's list never routes that name.
/// </summary>
public sealed class RouteTable
{
    private volatile State _state = new(null, new Dictionary<string, TenantSettings>());

    /// <summary>The registry version this table reflects; -1 before the first snapshot.</summary>
    public long Version => _state.Snapshot?.Version ?? -1;

    public bool IsLoaded => _state.Snapshot is not null;

    public void Apply(RegistrySnapshot snapshot) =>
        _state = new State(snapshot, snapshot.Tenants.ToDictionary(t => t.Tenant, StringComparer.Ordinal));

    /// <summary>
    /// Every registered certificate by tenant, host name and key, with the earliest NotAfter among the replicas
    /// holding it: the date by which the operator must see a renewal.
    /// </summary>
    public IEnumerable<CertificateExpiry> CertificateExpiries()
    {
        var snapshot = _state.Snapshot;
        if (snapshot is null) return [];
        return snapshot.Replicas
            .SelectMany(r => r.Chains.SelectMany(c => c.HostNames.Select(h => (r.Tenant, HostName: h, c.KeyId, c.NotAfter))))
            .GroupBy(e => (e.Tenant, e.HostName, e.KeyId))
            .Select(g => new CertificateExpiry(g.Key.Tenant, g.Key.HostName, g.Key.KeyId, g.Min(e => e.NotAfter)));
    }

    /// <summary>Tenants the operator set up whose key servers have none registered: their names cannot be served.</summary>
    public IReadOnlyList<string> TenantsWithoutKeyServer()
    {
        var snapshot = _state.Snapshot;
        if (snapshot is null) return [];
        var served = snapshot.Replicas.Select(r => r.Tenant).ToHashSet(StringComparer.Ordinal);
        return snapshot.Tenants.Select(t => t.Tenant).Where(t => !served.Contains(t)).Order(StringComparer.Ordinal).ToList();
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

    private sealed class State(RegistrySnapshot? snapshot, Dictionary<string, TenantSettings> tenants)
    {
        public RegistrySnapshot? Snapshot { get; } = snapshot;
        public ConcurrentDictionary<string, EdgeRoute?> Routes { get; } = new(StringComparer.Ordinal);

        /// <summary>Names offered to <see cref="Routes"/> (an upper bound of its size: racing callers may offer one name twice).</summary>
        public int Cached;

        public EdgeRoute? Compute(string host)
        {
            if (Snapshot is null) return null;
            var owners = tenants.Values.Where(t => t.HostNames.Any(pattern => HostNames.Matches(pattern, host))).ToList();
            if (owners.Count == 0) return null; // no tenant was given this name: no need to look at certificates

            var route = HostRouting.Find(Snapshot.Replicas.Where(r => owners.Any(t => t.Tenant == r.Tenant)), host);
            if (route is not null) return new EdgeRoute(host, route, tenants[route.Tenant]);

            // The name belongs to a tenant whose key servers have all gone (or never came): a known name
            // with no usable key, which the TLS server answers with internal_error rather than unrecognized_name.
            return new EdgeRoute(host, new HostRoute(owners[0].Tenant, host, []), owners[0]);
        }
    }
}
