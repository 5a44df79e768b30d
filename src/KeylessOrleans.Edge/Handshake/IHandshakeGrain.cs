using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.Handshake;

/// <summary>Which key a handshake needs, which replicas hold it, and the connection facts for the tenant's audit.</summary>
[GenerateSerializer, Immutable, Alias("keyless.KeyCall")]
public sealed record KeyCall(
    [property: Id(0)] string Tenant,
    [property: Id(1)] string KeyId,
    [property: Id(2)] IReadOnlyList<string> Replicas,
    [property: Id(3)] string? ServerName,
    [property: Id(4)] string? ClientAddress);

/// <summary>
/// The edge-local step between a TLS handshake and a tenant's key grain: picks a replica, calls it within the
/// deadline, fails over once to another replica. A stateless worker, so it always runs on the edge silo that
/// terminates the connection.
/// </summary>
[Alias("keyless.IHandshakeGrain")]
public interface IHandshakeGrain : IGrainWithIntegerKey
{
    [Alias("SignCertificateVerify")]
    Task<KeyOperationResult> SignCertificateVerifyAsync(KeyCall call, SignatureScheme scheme, byte[] signedContent);

    [Alias("SignServerKeyExchange")]
    Task<KeyOperationResult> SignServerKeyExchangeAsync(KeyCall call, SignatureScheme scheme, byte[] signedParams);

    [Alias("DecryptPremaster")]
    Task<KeyOperationResult> DecryptPremasterAsync(KeyCall call, byte[] encryptedPremaster, ushort clientVersion, byte[] clientRandom, byte[] serverRandom);
}
