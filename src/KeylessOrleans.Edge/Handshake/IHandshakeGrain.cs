using KeylessOrleans.Cluster;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.Handshake;

/// <summary>Which key a handshake needs, which replicas hold it, and the connection facts for the tenant's audit.</summary>
/// <param name="Certificate">
/// The end-entity certificate (DER) the edge serves with this key: every signature and credential a key server
/// returns is verified against its public key before use (<see cref="KeyAccess.AnswerCheck"/>). Pass the served
/// chain's own array, so the parsed key is reused across handshakes.
/// </param>
[GenerateSerializer, Immutable, Alias("keyless.KeyCall")]
public sealed record KeyCall(
    [property: Id(0)] string Tenant,
    [property: Id(1)] string KeyId,
    [property: Id(2)] IReadOnlyList<string> Replicas,
    [property: Id(3)] string? ServerName,
    [property: Id(4)] string? ClientAddress,
    [property: Id(5)] byte[] Certificate);

/// <summary>
/// The edge-local step between a TLS handshake and a tenant's key grain: picks a replica, calls it within the
/// deadline, fails over once to another replica. A stateless worker, so it always runs on the edge silo that
/// terminates the connection. Only that silo's own process may call it (<see cref="HandshakeGrainGateway"/>): it
/// uses tenants' keys on the edge's authority.
/// </summary>
[Alias("keyless.IHandshakeGrain"), AllowedCallers(Callers.LocalProcess)]
public interface IHandshakeGrain : IGrainWithIntegerKey
{
    [Alias("SignCertificateVerify")]
    Task<KeyOperationResult> SignCertificateVerifyAsync(KeyCall call, SignatureScheme scheme, byte[] signedContent);

    [Alias("SignServerKeyExchange")]
    Task<KeyOperationResult> SignServerKeyExchangeAsync(KeyCall call, SignatureScheme scheme, byte[] signedParams);

    [Alias("DeriveMasterSecret")]
    Task<KeyOperationResult> DeriveMasterSecretAsync(KeyCall call, RsaKeyExchange exchange);

    [Alias("DelegateCredential")]
    Task<KeyOperationResult> DelegateCredentialAsync(KeyCall call, DelegationAsk ask);
}

/// <summary>What an edge asks a key server to delegate to, with its proof of holding the key (see <see cref="DelegateCredentialRequest"/>).</summary>
[GenerateSerializer, Immutable, Alias("keyless.DelegationAsk")]
public sealed record DelegationAsk(
    [property: Id(0)] byte[] CertificateSha256,
    [property: Id(1)] SignatureScheme Scheme,
    [property: Id(2)] SignatureScheme DelegatedScheme,
    [property: Id(3)] byte[] DelegatedPublicKey,
    [property: Id(4)] uint ValiditySeconds,
    [property: Id(5)] long PossessionTime,
    [property: Id(6)] byte[] PossessionSignature);
