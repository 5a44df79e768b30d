using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>
/// A private key held by this process (or by an HSM it talks to). The key's bytes are never exposed:
/// callers can only sign an already-validated TLS structure or decrypt a premaster secret.
/// </summary>
public interface IPrivateKey : IDisposable
{
    string KeyId { get; }
    KeyAlgorithm Algorithm { get; }
    int KeySizeBits { get; }
    byte[] SubjectPublicKeyInfo { get; }

    /// <summary>
    /// Whether a signature with this key costs less CPU than the two thread hops that would move it off the key grain's
    /// turn and back (in-process P-256 ECDSA: ~20 µs). Such a signature runs in the turn; any other key operation (RSA,
    /// P-384, Ed25519, an HSM that may block) runs on the thread pool, so one hot key still uses every core.
    /// </summary>
    bool SignsInTurn => false;

    /// <summary>Signs <paramref name="data"/> (hashing it as <paramref name="scheme"/> says) and returns the TLS wire signature.</summary>
    byte[] Sign(SignatureScheme scheme, ReadOnlySpan<byte> data);

    /// <summary>
    /// RSA keys only: the 48-byte premaster secret, or, when the ciphertext is of the wrong length, not below the
    /// modulus, badly padded or carries the wrong version, 48 bytes derived from the ciphertext under a secret of the
    /// key's holder (<see cref="Tls.ImplicitRejection"/>): the same ciphertext always gives the same answer. Never
    /// throws for a bad ciphertext and never reveals which case it was, neither in its answer nor in its timing.
    /// </summary>
    byte[] DecryptPremaster(ReadOnlySpan<byte> ciphertext, ushort clientVersion);
}
