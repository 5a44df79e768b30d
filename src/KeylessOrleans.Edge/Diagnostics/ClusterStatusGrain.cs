using KeylessOrleans.Cluster;
using KeylessOrleans.Status;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace KeylessOrleans.Edge.Diagnostics;

/// <summary>
/// Collects the edges' handshake reports and answers <c>keyless status</c> with them and the cluster's members.
/// Runs on an edge silo, which sees every member's declared role in its silo metadata cache (clients do not).
/// </summary>
internal sealed class ClusterStatusGrain(
    IClusterMembershipService membership,
    ISiloMetadataCache metadata,
    TimeProvider time) : Grain, IClusterStatusGrain
{
    /// <summary>A report older than this comes from an edge that stopped reporting (gone, or cut off): not shown.</summary>
    private static readonly TimeSpan Stale = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, EdgeStatusReport> _reports = new(StringComparer.Ordinal);

    public Task ReportEdgeAsync(EdgeStatusReport report)
    {
        _reports[report.Silo] = report;
        return Task.CompletedTask;
    }

    public Task<ClusterStatus> GetStatusAsync()
    {
        var now = time.GetUtcNow();
        foreach (var stale in _reports.Where(r => now - r.Value.At > Stale).Select(r => r.Key).ToList()) _reports.Remove(stale);

        var silos = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status != SiloStatus.Dead)
            .Select(m =>
            {
                var declared = metadata.GetSiloMetadata(m.SiloAddress).Metadata;
                return new SiloSummary(
                    m.SiloAddress.ToParsableString(),
                    m.Name,
                    m.Status.ToString(),
                    declared.GetValueOrDefault(SiloMetadataKeys.Role) ?? "?",
                    declared.GetValueOrDefault(SiloMetadataKeys.Tenant),
                    declared.GetValueOrDefault(SiloMetadataKeys.Replica));
            })
            .OrderBy(s => s.Role, StringComparer.Ordinal).ThenBy(s => s.Tenant).ThenBy(s => s.Name, StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(new ClusterStatus(now, silos, _reports.Values.OrderBy(r => r.Edge, StringComparer.Ordinal).ToList()));
    }
}
