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
    public KeyOperationResult Perform(KeyCall call, KeyRequest request) => request switch
    {
        SignCertificateVerifyRequest r => operations.SignCertificateVerify(r.Context.KeyId, r.Scheme, r.SignedContent),
        SignServerKeyExchangeRequest r => operations.SignServerKeyExchange(r.Context.KeyId, r.Scheme, r.SignedParams),
        DeriveMasterSecretRequest r => operations.DeriveMasterSecret(r.Context.KeyId, r.Exchange),
        _ => KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, $"the in-process baseline does not perform {request.Operation}"),
    };

    /// <summary>The baseline holds the key itself: it has no need of delegated credentials.</summary>
    public Task<KeyOperationResult> PerformAsync(KeyCall call, KeyRequest request) =>
        Task.FromResult(KeyOperationResult.Failure(KeyOperationStatus.Unauthorized, "the in-process baseline does not delegate"));
}
