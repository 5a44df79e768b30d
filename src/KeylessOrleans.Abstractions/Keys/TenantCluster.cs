namespace KeylessOrleans.Keys;

/// <summary>
/// How a tenant's own key-server cluster is named. Each tenant's replicas form a cluster of their own; edges join
/// none of them and reach them as Orleans clients, so both sides derive the ids from the tenant's name.
/// </summary>
public static class TenantCluster
{
    public const string ServiceId = "keyless-keyserver";

    public static string ClusterId(string tenant) => $"tenant-{tenant}";
}
