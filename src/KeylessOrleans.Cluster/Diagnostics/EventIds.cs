namespace KeylessOrleans.Cluster.Diagnostics;

/// <summary>
/// Every log event id of the cluster assembly, in one place so that no two log lines share an id. An id never
/// changes meaning once used: operators alert and filter on them. A new line takes an unused id in its area's
/// range; a test fails the build when two [LoggerMessage] methods share one.
/// </summary>
internal static class EventIds
{
    // Tenant registry: replicas, tenant settings, change feed (2001–2099).
    public const int ReplicaRegistered = 2001;
    public const int ReplicaUnregistered = 2002;
    public const int ReplicaRegistrationRefused = 2003;
    public const int TenantSet = 2004;
    public const int TenantRemoved = 2005;
    public const int TenantSettingsRefused = 2006;
    public const int RegistryFeedUnreachable = 2007;

    // File grain storage (2101–2199).
    public const int FileStorageStarted = 2101;
    public const int FileStorageStateUnreadable = 2102;

    // TLS between silos (2201–2299).
    public const int ClusterConnectionRefused = 2201;
}
