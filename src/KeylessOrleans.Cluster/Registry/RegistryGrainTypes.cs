namespace KeylessOrleans.Cluster.Registry;

/// <summary>
/// The registry's grain types and state names, fixed so that <see cref="RegistryReader"/> can find a grain's stored
/// state without activating it.
/// </summary>
internal static class RegistryGrainTypes
{
    public const string Tenant = "keyless-tenant";
    public const string HostName = "keyless-host-name";
    public const string TenantDirectory = "keyless-tenant-directory";
    public const string Feed = "keyless-registry-feed";

    public const string TenantState = "tenant";
    public const string HostNameState = "host";
    public const string DirectoryState = "tenants";

    /// <summary>Shards of the tenant directory: ~25 names each at 100,000 tenants, so adding one rewrites little.</summary>
    public const int DirectoryShards = 4096;

    /// <summary>The directory shard holding <paramref name="tenant"/> (FNV-1a, stable across processes and versions).</summary>
    public static string DirectoryShard(string tenant)
    {
        var hash = 2166136261u;
        foreach (var c in tenant)
        {
            hash ^= c;
            hash *= 16777619u;
        }
        return (hash % DirectoryShards).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

internal static class RegistryStorage
{
    /// <summary>The grain storage name the registry persists to.</summary>
    public const string Name = "keyless-registry";
}
