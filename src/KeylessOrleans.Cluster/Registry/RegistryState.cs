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

    /// <summary>
    /// The settings with plain arrays for lists, as stored. Grain storage writes JSON naming each value's runtime
    /// type and reads it back by that type; a caller in the same silo hands over its own objects (the records are
    /// immutable, so not copied), and a C# collection expression's compiler-made list type cannot be created again,
    /// so a registry written that way could not activate again.
    /// </summary>
    public static TenantSettings Storable(TenantSettings settings) =>
        settings with { HostNames = settings.HostNames.ToArray(), KeyServers = settings.KeyServers?.ToArray() };

    /// <summary>The registration with plain arrays for lists (see <see cref="Storable(TenantSettings)"/>).</summary>
    public static ReplicaRegistration Storable(ReplicaRegistration registration) => registration with
    {
        Chains = registration.Chains.Select(chain => chain with { ChainDer = chain.ChainDer.ToArray(), HostNames = chain.HostNames.ToArray() }).ToArray(),
    };
}
