using KeylessOrleans.Cluster;
using KeylessOrleans.Registry;
using KeylessOrleans.Status;

namespace KeylessOrleans.Cli.Status;

/// <summary>
/// What <c>keyless status</c> prints (and writes as JSON with --json): registry and edges joined per tenant, for the
/// tenants asked about (<see cref="Tenants"/>) out of <see cref="TenantCount"/>.
/// </summary>
internal sealed record StatusView(
    DateTimeOffset At,
    int TenantCount,
    IReadOnlyList<SiloSummary> Silos,
    IReadOnlyList<TenantView> Tenants,
    IReadOnlyList<EdgeStatusReport> Edges)
{
    public static StatusView From(int tenantCount, IEnumerable<TenantRecord> tenants, ClusterStatus cluster) => new(
        cluster.At,
        tenantCount,
        cluster.Silos,
        tenants.OrderBy(t => t.Settings.Tenant, StringComparer.Ordinal).Select(t => TenantView.From(t, cluster)).ToList(),
        cluster.Edges);
}

/// <param name="Handshakes">Summed over every edge's last minute.</param>
internal sealed record TenantView(
    string Tenant,
    IReadOnlyList<string> HostNames,
    string Origin,
    IReadOnlyList<ReplicaView> Replicas,
    IReadOnlyList<HandshakeCount> Handshakes)
{
    public long Succeeded => Handshakes.Where(h => h.Outcome == "ok").Sum(h => h.Count);
    public long Failed => Handshakes.Where(h => h.Outcome != "ok").Sum(h => h.Count);

    public static TenantView From(TenantRecord record, ClusterStatus cluster) => From(record.Settings, record.Replicas, cluster);

    private static TenantView From(TenantSettings tenant, IReadOnlyList<ReplicaRegistration> registered, ClusterStatus cluster) => new(
        tenant.Tenant,
        tenant.HostNames,
        $"{tenant.Origin.Host}:{tenant.Origin.Port}",
        tenant.IsFederated
            ? tenant.KeyServers!.OrderBy(k => k.Replica, StringComparer.Ordinal).Select(k => ReplicaView.Federated(tenant.Tenant, k, cluster)).ToList()
            : registered.OrderBy(r => r.Replica, StringComparer.Ordinal)
                .Select(r => ReplicaView.From(r, cluster)).ToList(),
        cluster.Edges.SelectMany(e => e.Handshakes).Where(h => h.Tenant == tenant.Tenant)
            .GroupBy(h => h.Outcome).Select(g => new HandshakeCount(tenant.Tenant, g.Key, g.Sum(h => h.Count), g.Sum(h => h.PostQuantum)))
            .OrderBy(h => h.Outcome, StringComparer.Ordinal).ToList());
}

/// <param name="Silo">
/// Membership status of the replica's silo, or "absent" when no member declares it; for a replica in its tenant's own
/// cluster, "Active" when every edge admitted its chains, else how many edges did.
/// </param>
internal sealed record ReplicaView(string Replica, string Silo, IReadOnlyList<KeyView> Keys)
{
    /// <summary>A replica of a tenant's own cluster, as the edges see it: the keys they admitted from it.</summary>
    public static ReplicaView Federated(string tenant, KeyServerEndpoint server, ClusterStatus cluster)
    {
        var admitted = cluster.Edges.Select(e => e.Admitted?.FirstOrDefault(a => a.Tenant == tenant && a.Replica == server.Replica)).ToList();
        var admitting = admitted.Count(a => a is { Keys.Count: > 0 });
        var keys = admitted.OfType<AdmittedReplica>().SelectMany(a => a.Keys).DistinctBy(k => k.KeyId)
            .Select(k => new KeyView(k.KeyId, k.Algorithm, k.HostNames, k.NotAfter)).ToList();
        var state = cluster.Edges.Count > 0 && admitting == cluster.Edges.Count ? "Active" : $"admitted by {admitting} of {cluster.Edges.Count} edges";
        return new ReplicaView(server.Replica, $"{state}", keys);
    }

    public static ReplicaView From(ReplicaRegistration replica, ClusterStatus cluster) => new(
        replica.Replica,
        cluster.Silos.FirstOrDefault(s => s.Role == SiloRoles.OnPrem && s.Tenant == replica.Tenant && s.Replica == replica.Replica)?.Status ?? "absent",
        replica.Chains.Select(c => new KeyView(c.KeyId, c.Algorithm.ToString(), c.HostNames, c.NotAfter)).ToList());
}

internal sealed record KeyView(string KeyId, string Algorithm, IReadOnlyList<string> HostNames, DateTimeOffset NotAfter);
