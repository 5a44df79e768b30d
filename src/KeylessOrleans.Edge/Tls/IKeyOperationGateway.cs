using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// The synchronous door from BouncyCastle's key callbacks to a key operation. Called on a handshake thread,
/// which it may block for one key-server round trip; always returns, within the key-call deadline.
/// </summary>
public interface IKeyOperationGateway
{
    KeyOperationResult SignCertificateVerify(KeyCall call, SignatureScheme scheme, byte[] signedContent);

    KeyOperationResult SignServerKeyExchange(KeyCall call, SignatureScheme scheme, byte[] signedParams);

    /// <summary>TLS 1.2 RSA key exchange: the handshake's 48-byte master secret, derived by the key server.</summary>
    KeyOperationResult DeriveMasterSecret(KeyCall call, RsaKeyExchange exchange);

    /// <summary>Asks for a delegated credential, off any handshake's path (no handshake thread waits for it).</summary>
    Task<KeyOperationResult> DelegateCredentialAsync(KeyCall call, DelegationAsk ask);
}
