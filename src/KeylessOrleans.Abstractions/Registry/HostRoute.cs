using KeylessOrleans.Keys;

namespace KeylessOrleans.Registry;

/// <summary>One key that can serve a host name, and the replicas that hold it.</summary>
[GenerateSerializer, Immutable, Alias("keyless.KeyRoute")]
public sealed record KeyRoute(
    [property: Id(0)] string KeyId,
    [property: Id(1)] KeyAlgorithm Algorithm,
    [property: Id(2)] IReadOnlyList<byte[]> ChainDer,
    [property: Id(3)] IReadOnlyList<string> Replicas);

/// <summary>How an edge serves a host name: the tenant, the registered name that matched, the usable keys.</summary>
[GenerateSerializer, Immutable, Alias("keyless.HostRoute")]
public sealed record HostRoute(
    [property: Id(0)] string Tenant,
    [property: Id(1)] string MatchedName,
    [property: Id(2)] IReadOnlyList<KeyRoute> Keys);
