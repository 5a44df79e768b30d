using KeylessOrleans.Registry;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>Turns registrations into the route for one host name. Pure: the registry grain and edge caches share it.</summary>
internal static class HostRouting
{
    public static HostRoute? Find(IEnumerable<ReplicaRegistration> registrations, string hostName)
    {
        var host = HostNames.Normalize(hostName);
        var matches = registrations
            .SelectMany(r => r.Chains.SelectMany(c => c.HostNames
                .Where(name => HostNames.Matches(name, host))
                .Select(name => (Registration: r, Chain: c, Name: HostNames.Normalize(name)))))
            .ToList();
        if (matches.Count == 0) return null;

        // An exact name wins over a wildcard; ties between tenants are refused at registration (multi-host issue).
        var best = matches.FirstOrDefault(m => m.Name == host);
        var chosen = best.Name is not null ? best : matches[0];
        var keys = matches
            .Where(m => m.Name == chosen.Name && m.Registration.Tenant == chosen.Registration.Tenant)
            .GroupBy(m => m.Chain.KeyId)
            .Select(g => new KeyRoute(
                g.Key,
                g.First().Chain.Algorithm,
                g.First().Chain.ChainDer,
                g.Select(m => m.Registration.Replica).Distinct().Order(StringComparer.Ordinal).ToList()))
            .ToList();
        return new HostRoute(chosen.Registration.Tenant, chosen.Name, keys);
    }
}
