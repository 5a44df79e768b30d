namespace KeylessOrleans.Cluster.Hosting;

/// <summary>Tags on health checks, so the admin endpoint can tell which ones decide readiness.</summary>
public static class HealthTags
{
    /// <summary>Checks that must pass before this silo should receive work (/readyz).</summary>
    public const string Ready = "ready";
}
