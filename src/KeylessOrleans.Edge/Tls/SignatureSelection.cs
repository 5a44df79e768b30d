using KeylessOrleans.Keys;
using Org.BouncyCastle.Tls;
using BcScheme = Org.BouncyCastle.Tls.SignatureScheme;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// Chooses the signature scheme for a key from the client's signature_algorithms. BouncyCastle leaves this to a
/// custom signer, and in TLS 1.3 does not even check the choice was offered. Never SHA-1, never MD5.
/// </summary>
internal static class SignatureSelection
{
    private static readonly int[] Rsa13 = [BcScheme.rsa_pss_rsae_sha256, BcScheme.rsa_pss_rsae_sha384, BcScheme.rsa_pss_rsae_sha512];
    private static readonly int[] Rsa12 =
    [
        BcScheme.rsa_pss_rsae_sha256, BcScheme.rsa_pkcs1_sha256, BcScheme.rsa_pss_rsae_sha384,
        BcScheme.rsa_pkcs1_sha384, BcScheme.rsa_pss_rsae_sha512, BcScheme.rsa_pkcs1_sha512,
    ];
    private static readonly int[] Ecdsa12 = [BcScheme.ecdsa_secp256r1_sha256, BcScheme.ecdsa_secp384r1_sha384];

    /// <summary>Server preference for a key in a TLS version; empty when the key cannot sign there.</summary>
    public static int[] Preference(KeyAlgorithm algorithm, bool tls13) => (algorithm, tls13) switch
    {
        (KeyAlgorithm.Rsa, true) => Rsa13,
        (KeyAlgorithm.Rsa, false) => Rsa12,
        (KeyAlgorithm.EcdsaP256, true) => [BcScheme.ecdsa_secp256r1_sha256],
        (KeyAlgorithm.EcdsaP384, true) => [BcScheme.ecdsa_secp384r1_sha384],
        (KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384, false) => Ecdsa12,
        // RFC 8422 §5.1.1: Ed25519 also signs TLS 1.2 ECDHE_ECDSA ServerKeyExchanges.
        (KeyAlgorithm.Ed25519, _) => [BcScheme.ed25519],
        _ => [],
    };

    /// <returns>The client's entry for the first scheme we prefer that it offered, or null.</returns>
    public static SignatureAndHashAlgorithm? Select(KeyAlgorithm algorithm, bool tls13, IList<SignatureAndHashAlgorithm>? clientSigAlgs)
    {
        // A TLS 1.2 client without signature_algorithms implies SHA-1 (RFC 5246 §7.4.1.4.1), which we never use.
        if (clientSigAlgs is null) return null;
        foreach (var scheme in Preference(algorithm, tls13))
            foreach (var offered in clientSigAlgs)
                if (BcScheme.From(offered) == scheme) return offered;
        return null;
    }

    public static Keys.SignatureScheme ToKeyScheme(SignatureAndHashAlgorithm algorithm) =>
        (Keys.SignatureScheme)BcScheme.From(algorithm);
}
