using System.Security.Cryptography;

namespace KeylessOrleans.Keys;

/// <summary>The hash each TLS code point of a key request means: for the key server that signs and derives, and for the edge's warm-up that does the same with its own throwaway keys.</summary>
public static class TlsHashes
{
    /// <summary>The hash a scheme signs with; Ed25519 has none of its own choosing (it hashes internally).</summary>
    public static HashAlgorithmName Of(SignatureScheme scheme) => scheme switch
    {
        SignatureScheme.RsaPkcs1Sha256 or SignatureScheme.RsaPssRsaeSha256 or SignatureScheme.EcdsaSecp256r1Sha256 => HashAlgorithmName.SHA256,
        SignatureScheme.RsaPkcs1Sha384 or SignatureScheme.RsaPssRsaeSha384 or SignatureScheme.EcdsaSecp384r1Sha384 => HashAlgorithmName.SHA384,
        SignatureScheme.RsaPkcs1Sha512 or SignatureScheme.RsaPssRsaeSha512 => HashAlgorithmName.SHA512,
        _ => default,
    };

    public static bool IsPss(SignatureScheme scheme) =>
        scheme is SignatureScheme.RsaPssRsaeSha256 or SignatureScheme.RsaPssRsaeSha384 or SignatureScheme.RsaPssRsaeSha512;

    /// <summary>The hash of a TLS 1.2 PRF (and of the transcript an extended master secret is derived from).</summary>
    public static HashAlgorithmName Of(TlsPrfHash prf) => prf switch
    {
        TlsPrfHash.Sha256 => HashAlgorithmName.SHA256,
        TlsPrfHash.Sha384 => HashAlgorithmName.SHA384,
        _ => throw new ArgumentOutOfRangeException(nameof(prf), prf, "not a TLS 1.2 PRF hash"),
    };
}
