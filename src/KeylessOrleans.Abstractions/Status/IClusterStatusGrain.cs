using KeylessOrleans.Cluster;

namespace KeylessOrleans.Status;

/// <summary>
/// What <c>keyless status</c> shows beyond the registry: the silos with their roles, and each edge's handshakes
/// of the last minute. Edges report every few seconds; the grain keeps reports in memory only (they are rebuilt
/// within one report interval after it moves). Lives on edge silos. One activation, key <see cref="DefaultKey"/>.
/// </summary>
[Alias("keyless.IClusterStatusGrain"), AllowedCallers(Callers.Edge)]
public interface IClusterStatusGrain : IGrainWithStringKey
{
    public const string DefaultKey = "default";

    [Alias("ReportEdge")]
    Task ReportEdgeAsync(EdgeStatusReport report);

    /// <summary>For <c>keyless status</c> (operator); edges, the cluster's members, may read it as well.</summary>
    [Alias("GetStatus"), AllowedCallers(Callers.Operator | Callers.Edge)]
    Task<ClusterStatus> GetStatusAsync();
}

/// <summary>Handshakes one edge finished in its window, for one tenant ("-" when no tenant was resolved) and outcome.</summary>
/// <param name="PostQuantum">Of <paramref name="Count"/>, those whose key agreement was a post-quantum hybrid (X25519MLKEM768 …).</param>
[GenerateSerializer, Immutable, Alias("keyless.HandshakeCount")]
public sealed record HandshakeCount(
    [property: Id(0)] string Tenant,
    [property: Id(1)] string Outcome,
    [property: Id(2)] long Count,
    [property: Id(3)] long PostQuantum = 0);

/// <summary>A key of a federated tenant's replica as one edge admitted it (public facts only).</summary>
[GenerateSerializer, Immutable, Alias("keyless.AdmittedKey")]
public sealed record AdmittedKey(
    [property: Id(0)] string KeyId,
    [property: Id(1)] string Algorithm,
    [property: Id(2)] IReadOnlyList<string> HostNames,
    [property: Id(3)] DateTimeOffset NotAfter);

/// <summary>The keys one edge admitted from a federated tenant's replica (names checked, possession proven).</summary>
[GenerateSerializer, Immutable, Alias("keyless.AdmittedReplica")]
public sealed record AdmittedReplica(
    [property: Id(0)] string Tenant,
    [property: Id(1)] string Replica,
    [property: Id(2)] IReadOnlyList<AdmittedKey> Keys);

/// <summary>One edge's counters over the last <paramref name="Window"/>, as of <paramref name="At"/>.</summary>
/// <param name="Admitted">The federated tenants' replicas whose chains this edge admitted (tenants' own clusters are not members to list).</param>
[GenerateSerializer, Immutable, Alias("keyless.EdgeStatusReport")]
public sealed record EdgeStatusReport(
    [property: Id(0)] string Edge,
    [property: Id(1)] string Silo,
    [property: Id(2)] DateTimeOffset At,
    [property: Id(3)] TimeSpan Window,
    [property: Id(4)] IReadOnlyList<HandshakeCount> Handshakes,
    [property: Id(5)] long OpenConnections,
    [property: Id(6)] IReadOnlyList<AdmittedReplica>? Admitted = null);

/// <summary>A cluster member and the role it declared (silo metadata).</summary>
[GenerateSerializer, Immutable, Alias("keyless.SiloSummary")]
public sealed record SiloSummary(
    [property: Id(0)] string Address,
    [property: Id(1)] string Name,
    [property: Id(2)] string Status,
    [property: Id(3)] string Role,
    [property: Id(4)] string? Tenant,
    [property: Id(5)] string? Replica);

[GenerateSerializer, Immutable, Alias("keyless.ClusterStatus")]
public sealed record ClusterStatus(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] IReadOnlyList<SiloSummary> Silos,
    [property: Id(2)] IReadOnlyList<EdgeStatusReport> Edges);
