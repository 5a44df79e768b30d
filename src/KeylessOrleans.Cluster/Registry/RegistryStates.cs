using KeylessOrleans.Registry;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>What the registry persists for one tenant (<see cref="TenantGrain"/>).</summary>
[GenerateSerializer, Alias("keyless.TenantState")]
internal sealed class TenantState
{
    /// <summary>Null before the operator adds the tenant and after it is removed.</summary>
    [Id(0)] public TenantSettings? Settings { get; set; }

    /// <summary>Self-registered replicas (single-organization mode), keyed by replica name.</summary>
    [Id(1)] public Dictionary<string, ReplicaRegistration> Replicas { get; set; } = [];

    [Id(2)] public long Version { get; set; }

    public TenantRecord? Record() => Settings is null ? null : new TenantRecord(Settings, Replicas.Values.ToArray(), Version);

    /// <summary>
    /// The settings with plain arrays for lists, as stored. Grain storage writes JSON naming each value's runtime
    /// type and reads it back by that type; a caller in the same silo hands over its own objects (the records are
    /// immutable, so not copied), and a C# collection expression's compiler-made list type cannot be created again,
    /// so a state written that way could not be read again.
    /// </summary>
    public static TenantSettings Storable(TenantSettings settings) =>
        settings with { HostNames = settings.HostNames.ToArray(), KeyServers = settings.KeyServers?.ToArray() };

    /// <summary>The registration with plain arrays for lists (see <see cref="Storable(TenantSettings)"/>).</summary>
    public static ReplicaRegistration Storable(ReplicaRegistration registration) => registration with
    {
        Chains = registration.Chains.Select(chain => chain with { ChainDer = chain.ChainDer.ToArray(), HostNames = chain.HostNames.ToArray() }).ToArray(),
    };
}

/// <summary>Which tenant was given one host name or wildcard (<see cref="HostNameGrain"/>).</summary>
[GenerateSerializer, Alias("keyless.HostNameState")]
internal sealed class HostNameState
{
    [Id(0)] public string? Tenant { get; set; }
}

/// <summary>The tenant names of one directory shard (<see cref="TenantDirectoryGrain"/>).</summary>
[GenerateSerializer, Alias("keyless.TenantDirectoryState")]
internal sealed class TenantDirectoryState
{
    [Id(0)] public List<string> Tenants { get; set; } = [];
}
