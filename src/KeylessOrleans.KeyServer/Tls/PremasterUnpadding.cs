using System.Runtime.CompilerServices;

namespace KeylessOrleans.KeyServer.Tls;

/// <summary>
/// Recovers a TLS 1.2 premaster secret from a raw RSA plaintext with implicit rejection (RFC 5246 §7.4.7.1):
/// the answer is always 48 bytes, either the real premaster or the caller's fallback (the deterministic
/// <see cref="ImplicitRejection"/> answer for this ciphertext), chosen with masks
/// instead of branches, so good and bad padding take the same path and the same time.
/// </summary>
/// <remarks>
/// The layout checked is the only one a 48-byte premaster can have in a k-byte block:
/// 0x00 0x02 ‖ k−51 nonzero bytes ‖ 0x00 ‖ client_version (2) ‖ 46 random bytes.
/// </remarks>
internal static class PremasterUnpadding
{
    public const int PremasterLength = 48;

    /// <param name="encodedMessage">The raw RSA output, left-padded to the modulus length.</param>
    /// <param name="clientVersion">ClientHello.client_version the premaster must begin with.</param>
    /// <param name="fallback">The 48-byte implicit-rejection answer for this ciphertext, returned in place of the premaster on any failure.</param>
    /// <param name="premaster">Receives the 48-byte result.</param>
    public static void Unpad(ReadOnlySpan<byte> encodedMessage, ushort clientVersion, ReadOnlySpan<byte> fallback, Span<byte> premaster)
    {
        if (fallback.Length != PremasterLength || premaster.Length != PremasterLength)
            throw new ArgumentException("Fallback and output must be 48 bytes.");

        var k = encodedMessage.Length;
        if (k < PremasterLength + 11)
        {
            // The length is public (the modulus size), so this branch reveals nothing secret.
            fallback.CopyTo(premaster);
            return;
        }

        var separator = k - PremasterLength - 1;
        var good = IsEqual(encodedMessage[0], 0x00) & IsEqual(encodedMessage[1], 0x02);
        for (var i = 2; i < separator; i++)
            good &= ~IsEqual(encodedMessage[i], 0x00);
        good &= IsEqual(encodedMessage[separator], 0x00);
        good &= IsEqual(encodedMessage[separator + 1], (byte)(clientVersion >> 8));
        good &= IsEqual(encodedMessage[separator + 2], (byte)clientVersion);

        var take = (byte)good; // 0xFF to take the plaintext, 0x00 to take the fallback
        var plaintext = encodedMessage[(separator + 1)..];
        for (var i = 0; i < PremasterLength; i++)
            premaster[i] = (byte)((plaintext[i] & take) | (fallback[i] & ~take));
    }

    /// <summary>0xFF…FF when a == b, else 0, without a data-dependent branch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IsEqual(byte a, byte b)
    {
        var diff = a ^ b;                 // 0 iff equal, else 1..255
        return (diff - 1) >> 31;          // (0 - 1) >> 31 = -1 (all ones); (1..255 - 1) >> 31 = 0
    }
}
