using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Tls;

/// <summary>Which signature schemes a key may use in which TLS version, and what each scheme means.</summary>
internal static class TlsSignatureSchemes
{
    /// <summary>TLS 1.3 (RFC 8446 §4.2.3): RSA only with PSS, ECDSA bound to its curve.</summary>
    public static IReadOnlyList<SignatureScheme> ForTls13(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa => [SignatureScheme.RsaPssRsaeSha256, SignatureScheme.RsaPssRsaeSha384, SignatureScheme.RsaPssRsaeSha512],
        KeyAlgorithm.EcdsaP256 => [SignatureScheme.EcdsaSecp256r1Sha256],
        KeyAlgorithm.EcdsaP384 => [SignatureScheme.EcdsaSecp384r1Sha384],
        KeyAlgorithm.Ed25519 => [SignatureScheme.Ed25519],
        _ => [],
    };

    /// <summary>TLS 1.2 (RFC 5246 / 8422 / 8446 §4.2.3): the ECDSA code points name only the hash; never MD5 or SHA-1.</summary>
    public static IReadOnlyList<SignatureScheme> ForTls12(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa =>
        [
            SignatureScheme.RsaPkcs1Sha256, SignatureScheme.RsaPkcs1Sha384, SignatureScheme.RsaPkcs1Sha512,
            SignatureScheme.RsaPssRsaeSha256, SignatureScheme.RsaPssRsaeSha384, SignatureScheme.RsaPssRsaeSha512,
        ],
        KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 => [SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.EcdsaSecp384r1Sha384],
        KeyAlgorithm.Ed25519 => [SignatureScheme.Ed25519],
        _ => [],
    };

    /// <summary>Every scheme the key can be asked for in some TLS version, for describing the key.</summary>
    public static IReadOnlyList<SignatureScheme> Any(KeyAlgorithm algorithm) =>
        ForTls12(algorithm).Union(ForTls13(algorithm)).ToList();
}
