using KeylessOrleans.Cluster;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.Handshake;

/// <summary>
/// Where a key request may go and how its answer is checked: the edge's own facts, which never reach a key server
/// (the request itself carries who asks, for which key and connection: <see cref="KeyRequest.Context"/>).
/// </summary>
/// <param name="Replicas">The tenant's replicas that hold the key.</param>
/// <param name="Certificate">
/// The end-entity certificate (DER) the edge serves with this key: every signature and credential a key server
/// returns is verified against its public key before use (<see cref="KeyAccess.AnswerCheck"/>). Pass the served
/// chain's own array, so the parsed key is reused across handshakes.
/// </param>
[GenerateSerializer, Immutable, Alias("keyless.KeyCall")]
internal sealed record KeyCall(
    [property: Id(0)] IReadOnlyList<string> Replicas,
    [property: Id(1)] byte[] Certificate);

/// <summary>
/// The edge-local step between a TLS handshake and a tenant's key grain: picks a replica, calls it within the
/// deadline, fails over once to another replica, and checks the answer. A stateless worker, so it always runs on the
/// edge silo that terminates the connection. Only that silo's own process may call it (<see cref="HandshakeGrainGateway"/>):
/// it uses tenants' keys on the edge's authority.
/// </summary>
[Alias("keyless.IHandshakeGrain"), AllowedCallers(Callers.LocalProcess)]
internal interface IHandshakeGrain : IGrainWithIntegerKey
{
    /// <summary>Sends <paramref name="request"/> to one of <paramref name="call"/>'s replicas (or two, on failover).</summary>
    [Alias("Perform")]
    Task<KeyOperationResult> PerformAsync(KeyCall call, KeyRequest request);
}
