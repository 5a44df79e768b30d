using System.Security.Cryptography;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer;

/// <summary>
/// The private-key operations of a TLS server, each refusing anything but its own TLS structure.
/// Plain logic over a key store, so it is tested without a cluster; the key grain only orchestrates.
/// </summary>
internal sealed class KeyOperations(IKeyStore store)
{
    public KeyOperationResult SignCertificateVerify(string keyId, SignatureScheme scheme, ReadOnlySpan<byte> signedContent)
    {
        if (!store.TryGetKey(keyId, out var key)) return KeyNotFound(keyId);
        if (!TlsSignatureSchemes.ForTls13(key.Algorithm).Contains(scheme))
            return Invalid($"scheme {scheme} is not allowed in TLS 1.3 for a {key.Algorithm} key");
        return CertificateVerifyContent.Validate(signedContent) is { } problem ? Invalid(problem) : Sign(key, scheme, signedContent);
    }

    public KeyOperationResult SignServerKeyExchange(string keyId, SignatureScheme scheme, ReadOnlySpan<byte> signedParams)
    {
        if (!store.TryGetKey(keyId, out var key)) return KeyNotFound(keyId);
        if (!TlsSignatureSchemes.ForTls12(key.Algorithm).Contains(scheme))
            return Invalid($"scheme {scheme} is not allowed in TLS 1.2 for a {key.Algorithm} key");
        return ServerKeyExchangeParams.Validate(signedParams) is { } problem ? Invalid(problem) : Sign(key, scheme, signedParams);
    }

    /// <summary>Signs an edge's challenge in the possession-proof structure, built here from the challenge alone.</summary>
    public KeyOperationResult ProvePossession(KeyGrainKey target, SignatureScheme scheme, ReadOnlySpan<byte> challenge)
    {
        if (!store.TryGetKey(target.KeyId, out var key)) return KeyNotFound(target.KeyId);
        if (!TlsSignatureSchemes.Any(key.Algorithm).Contains(scheme))
            return Invalid($"scheme {scheme} is not allowed for a {key.Algorithm} key");
        if (challenge.Length != KeyPossession.ChallengeLength) return Invalid($"a challenge is {KeyPossession.ChallengeLength} bytes");
        return Sign(key, scheme, KeyPossession.SignedContent(target, challenge));
    }

    /// <summary>
    /// The master secret of one TLS 1.2 RSA key exchange. The premaster is decrypted with implicit rejection (a bad
    /// ciphertext yields a stand-in that is indistinguishable until the client's Finished fails on the edge, RFC 5246
    /// §7.4.7.1), fed to the PRF here and wiped: it never leaves this method. With a transcript the seed is the session
    /// hash of those very messages (RFC 7627), computed here; without, the two randoms. Freshness of the server_random
    /// is checked before this runs (<see cref="Access.HandshakeFreshness"/>).
    /// </summary>
    public KeyOperationResult DeriveMasterSecret(string keyId, RsaKeyExchange exchange)
    {
        if (!store.TryGetKey(keyId, out var key)) return KeyNotFound(keyId);
        if (key.Algorithm != KeyAlgorithm.Rsa) return Invalid($"a {key.Algorithm} key cannot decrypt");
        if (exchange.Prf is not (TlsPrfHash.Sha256 or TlsPrfHash.Sha384)) return Invalid($"PRF {exchange.Prf} is not a TLS 1.2 PRF");
        if (exchange.ClientRandom.Length != 32 || exchange.ServerRandom.Length != 32) return Invalid("client and server randoms are 32 bytes");
        string label;
        byte[] seed;
        if (exchange.Transcript is { } transcript)
        {
            if (RsaKeyExchangeTranscript.Validate(exchange) is { } problem) return Invalid($"transcript refused: {problem}");
            label = Tls12Prf.ExtendedMasterSecretLabel;
            seed = CryptographicOperations.HashData(TlsHashes.Of(exchange.Prf), transcript);
        }
        else
        {
            label = Tls12Prf.MasterSecretLabel;
            seed = [.. exchange.ClientRandom, .. exchange.ServerRandom];
        }
        byte[]? premaster = null;
        try
        {
            premaster = key.DecryptPremaster(exchange.EncryptedPremaster, exchange.ClientVersion);
            return KeyOperationResult.Success(Tls12Prf.Derive(exchange.Prf, premaster, label, seed, Tls12Prf.MasterSecretLength));
        }
        catch (CryptographicException e)
        {
            // Only failures of the key's holder (e.g. an HSM gone) get here; bad ciphertexts never throw.
            return KeyOperationResult.Failure(KeyOperationStatus.CryptoFailed, $"decryption failed: {e.Message}");
        }
        finally
        {
            if (premaster is not null) CryptographicOperations.ZeroMemory(premaster);
        }
    }

    /// <summary>
    /// Whether <paramref name="request"/> is a signature with a key cheap enough to run in the key grain's turn
    /// (<see cref="IPrivateKey.SignsInTurn"/>); everything else goes to the thread pool.
    /// </summary>
    public bool RunsInTurn(string keyId, KeyRequest request) =>
        request is SignCertificateVerifyRequest or SignServerKeyExchangeRequest && store.TryGetKey(keyId, out var key) && key.SignsInTurn;

    public KeyDescriptionResult Describe(string keyId)
    {
        if (!store.TryGetKey(keyId, out var key))
            return new KeyDescriptionResult(KeyOperationStatus.KeyNotFound, Detail: $"key {keyId} is not held here");
        return new KeyDescriptionResult(KeyOperationStatus.Ok, new KeyDescription(
            key.KeyId, key.Algorithm, key.KeySizeBits, key.SubjectPublicKeyInfo,
            TlsSignatureSchemes.Any(key.Algorithm), CanDecrypt: key.Algorithm == KeyAlgorithm.Rsa));
    }

    private static KeyOperationResult Sign(IPrivateKey key, SignatureScheme scheme, ReadOnlySpan<byte> data)
    {
        try
        {
            return KeyOperationResult.Success(key.Sign(scheme, data));
        }
        catch (CryptographicException e)
        {
            return KeyOperationResult.Failure(KeyOperationStatus.CryptoFailed, $"signing failed: {e.Message}");
        }
    }

    private static KeyOperationResult KeyNotFound(string keyId) =>
        KeyOperationResult.Failure(KeyOperationStatus.KeyNotFound, $"key {keyId} is not held here");

    private static KeyOperationResult Invalid(string problem) =>
        KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, problem);
}
