using System.Security.Cryptography;

namespace KeylessOrleans.KeyServer.Tls;

/// <summary>
/// Deterministic implicit rejection for RSA PKCS#1 v1.5 key exchange: the 48 bytes answered in place of the
/// premaster when a ciphertext is bad are a keyed function of the ciphertext, so asking twice with the same
/// ciphertext gives the same answer whether the padding was good or bad. With random bytes instead, a caller
/// could tell bad padding from good by asking twice (equal answers only for good padding): an oracle.
/// </summary>
/// <remarks>
/// The construction follows the IETF draft "Implicit Rejection for RSA PKCS#1 v1.5" (as in OpenSSL 3.2+) in its
/// key derivation, simplified in what is derived, because a TLS premaster has a fixed length of 48 bytes:
/// <list type="number">
/// <item>key (32 bytes): for a key in a PEM file, SHA-256 of the private exponent d as a big-endian octet string
/// left-padded to the modulus length (as the draft); for a key in a PKCS#11 token, a 32-byte CKK_GENERIC_SECRET
/// key generated in the token next to the RSA key, because d cannot leave the token;</item>
/// <item>prk = HMAC-SHA256(key, "keyless implicit rejection" ‖ ciphertext), the ciphertext exactly as received
/// (any length), computed in the token for PKCS#11 keys (CKM_SHA256_HMAC);</item>
/// <item>answer = HKDF-Expand-SHA256(prk, info = "keyless implicit rejection premaster", 48 bytes) (RFC 5869).</item>
/// </list>
/// Step 2 is HKDF-Extract with the key as salt, so the whole is HKDF-SHA256 and the answer is pseudo-random to
/// anyone without the key. The answer is computed for every ciphertext, good or bad, and the choice between it
/// and the real premaster is made with masks (<see cref="PremasterUnpadding"/>).
/// </remarks>
internal static class ImplicitRejection
{
    /// <summary>Length of the secret key, of HMAC-SHA256 output and of the expanded intermediate.</summary>
    public const int KeyLength = 32;

    /// <summary>Prefix of the HMAC input, before the ciphertext.</summary>
    public static ReadOnlySpan<byte> Label => "keyless implicit rejection"u8;

    private static ReadOnlySpan<byte> ExpandInfo => "keyless implicit rejection premaster"u8;

    /// <summary>The key for a key held in this process: SHA-256 of d, big-endian, left-padded to <paramref name="modulusLength"/>.</summary>
    public static byte[] DeriveKey(ReadOnlySpan<byte> privateExponent, int modulusLength)
    {
        var significant = privateExponent.TrimStart((byte)0);
        if (significant.Length > modulusLength) throw new ArgumentException("the private exponent is longer than the modulus");
        var padded = new byte[modulusLength];
        try
        {
            significant.CopyTo(padded.AsSpan(modulusLength - significant.Length));
            return SHA256.HashData(padded);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(padded);
        }
    }

    /// <summary>The HMAC input for <paramref name="ciphertext"/>: label ‖ ciphertext (what a PKCS#11 token is given).</summary>
    public static byte[] HmacInput(ReadOnlySpan<byte> ciphertext)
    {
        var input = new byte[Label.Length + ciphertext.Length];
        Label.CopyTo(input);
        ciphertext.CopyTo(input.AsSpan(Label.Length));
        return input;
    }

    /// <summary>The 48-byte answer for <paramref name="ciphertext"/> under <paramref name="key"/>, all in this process.</summary>
    public static void Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> ciphertext, Span<byte> answer)
    {
        Span<byte> prk = stackalloc byte[KeyLength];
        using (var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key))
        {
            hmac.AppendData(Label);
            hmac.AppendData(ciphertext);
            hmac.GetHashAndReset(prk);
        }
        Expand(prk, answer);
        CryptographicOperations.ZeroMemory(prk);
    }

    /// <summary>Expands the HMAC output <paramref name="prk"/> to the 48-byte answer.</summary>
    public static void Expand(ReadOnlySpan<byte> prk, Span<byte> answer)
    {
        if (prk.Length != KeyLength) throw new CryptographicException($"implicit rejection: the HMAC gave {prk.Length} bytes, not {KeyLength}");
        if (answer.Length != PremasterUnpadding.PremasterLength) throw new ArgumentException("the answer is 48 bytes");
        HKDF.Expand(HashAlgorithmName.SHA256, prk, answer, ExpandInfo);
    }
}
