using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.KeyServer;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// The baseline: the same edge, but the key operations run in the edge process itself, as an edge holding the
/// key would. Only the benchmark builds this; the product's edge never reads a private key.
/// </summary>
internal sealed class LocalKeyGateway(KeyOperations operations) : IKeyOperationGateway
{
    public KeyOperationResult SignCertificateVerify(KeyCall call, SignatureScheme scheme, byte[] signedContent) =>
        operations.SignCertificateVerify(call.KeyId, scheme, signedContent);

    public KeyOperationResult SignServerKeyExchange(KeyCall call, SignatureScheme scheme, byte[] signedParams) =>
        operations.SignServerKeyExchange(call.KeyId, scheme, signedParams);

    public KeyOperationResult DeriveMasterSecret(KeyCall call, RsaKeyExchange exchange) =>
        operations.DeriveMasterSecret(call.KeyId, exchange);

    /// <summary>The baseline holds the key itself: it has no need of delegated credentials.</summary>
    public Task<KeyOperationResult> DelegateCredentialAsync(KeyCall call, DelegationAsk ask) =>
        Task.FromResult(KeyOperationResult.Failure(KeyOperationStatus.Unauthorized, "the in-process baseline does not delegate"));
}
