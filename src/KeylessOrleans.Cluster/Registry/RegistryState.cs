using KeylessOrleans.Registry;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>What the registry persists: every replica's registration and a version that grows with each change.</summary>
[GenerateSerializer, Alias("keyless.RegistryState")]
public sealed class RegistryState
{
    [Id(0)] public long Version { get; set; }

    /// <summary>Keyed by "tenant/replica".</summary>
    [Id(1)] public Dictionary<string, ReplicaRegistration> Replicas { get; set; } = [];

    /// <summary>Keyed by tenant.</summary>
    [Id(2)] public Dictionary<string, TenantSettings> Tenants { get; set; } = [];
}
