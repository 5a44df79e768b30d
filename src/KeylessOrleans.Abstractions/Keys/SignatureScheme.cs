namespace KeylessOrleans.Keys;

/// <summary>TLS SignatureScheme code points (RFC 8446 §4.2.3) the key server can be asked for.</summary>
/// <remarks>MD5 and SHA-1 schemes are deliberately absent: they can never be requested.</remarks>
public enum SignatureScheme : ushort
{
    RsaPkcs1Sha256 = 0x0401,
    RsaPkcs1Sha384 = 0x0501,
    RsaPkcs1Sha512 = 0x0601,
    EcdsaSecp256r1Sha256 = 0x0403,
    EcdsaSecp384r1Sha384 = 0x0503,
    RsaPssRsaeSha256 = 0x0804,
    RsaPssRsaeSha384 = 0x0805,
    RsaPssRsaeSha512 = 0x0806,
    Ed25519 = 0x0807,
}
