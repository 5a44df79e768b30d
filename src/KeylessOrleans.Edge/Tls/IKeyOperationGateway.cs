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

    KeyOperationResult DecryptPremaster(KeyCall call, byte[] encryptedPremaster, ushort clientVersion, byte[] clientRandom, byte[] serverRandom);

    /// <summary>Asks for a delegated credential, off any handshake's path (no handshake thread waits for it).</summary>
    Task<KeyOperationResult> DelegateCredentialAsync(KeyCall call, DelegationAsk ask);
}
