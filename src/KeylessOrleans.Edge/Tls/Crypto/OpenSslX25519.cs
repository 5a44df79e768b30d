using System.Runtime.Versioning;
using System.Security.Cryptography;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tls.Crypto;

/// <summary>
/// One X25519 key agreement of a handshake (TLS 1.3 key share, TLS 1.2 ECDHE), done by <see cref="LibCryptoX25519"/>:
/// the ephemeral key is made in OpenSSL once (which derives its public key) and used for the secret.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class OpenSslX25519(TlsCrypto crypto) : TlsAgreement
{
    private readonly byte[] _peerPublicKey = new byte[LibCryptoX25519.Size];
    private LibCryptoX25519.PrivateKey? _key;

    public byte[] GenerateEphemeral()
    {
        Span<byte> privateKey = stackalloc byte[LibCryptoX25519.Size];
        crypto.SecureRandom.NextBytes(privateKey);
        _key?.Dispose();
        _key = LibCryptoX25519.NewPrivateKey(privateKey);
        CryptographicOperations.ZeroMemory(privateKey);
        var publicKey = new byte[LibCryptoX25519.Size];
        LibCryptoX25519.PublicKey(_key, publicKey);
        return publicKey;
    }

    public void ReceivePeerValue(byte[] peerValue)
    {
        if (peerValue is not { Length: LibCryptoX25519.Size }) throw new TlsFatalAlert(AlertDescription.illegal_parameter);
        peerValue.CopyTo(_peerPublicKey, 0);
    }

    public TlsSecret CalculateSecret()
    {
        var key = _key ?? throw new TlsFatalAlert(AlertDescription.internal_error);
        var secret = new byte[LibCryptoX25519.Size];
        try
        {
            if (!LibCryptoX25519.Agree(key, _peerPublicKey, secret)) throw new TlsFatalAlert(AlertDescription.handshake_failure);
            return crypto.CreateSecret(secret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret); // CreateSecret kept its own copy
            CryptographicOperations.ZeroMemory(_peerPublicKey);
            key.Dispose(); // ephemeral: one secret, then gone
            _key = null;
        }
    }
}
