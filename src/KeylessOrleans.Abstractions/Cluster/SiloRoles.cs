namespace KeylessOrleans.Cluster;

/// <summary>Silo metadata every KeylessOrleans silo declares, and the roles it can have.</summary>
public static class SiloMetadataKeys
{
    public const string Role = "keyless.role";
    public const string Tenant = "keyless.tenant";
    public const string Replica = "keyless.replica";
}

public static class SiloRoles
{
    /// <summary>An operator's silo that terminates TLS and never holds a tenant key.</summary>
    public const string Edge = "edge";

    /// <summary>A tenant's silo that holds the tenant's keys and hosts only key grains.</summary>
    public const string OnPrem = "onprem";
}
