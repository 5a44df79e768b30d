using System.Diagnostics.CodeAnalysis;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// The cipher suites and key-agreement groups the edge negotiates, and how it picks among the client's: AEAD suites
/// only, the server's order first, and in TLS 1.2 only the curves and RFC 7919 groups whose ServerKeyExchange a key
/// server signs (<see cref="KeyShareGroups"/>). Plain loops: these run in every handshake.
/// </summary>
internal static class SuiteAndGroupPolicy
{
    /// <summary>
    /// In the server's preference order, which wins over the client's: TLS 1.3, then ECDHE, then finite-field DHE
    /// (slower, but forward secret), then RSA key exchange.
    /// </summary>
    public static readonly int[] Suites =
    [
        CipherSuite.TLS_AES_128_GCM_SHA256,
        CipherSuite.TLS_AES_256_GCM_SHA384,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_RSA_WITH_AES_256_GCM_SHA384,
    ];

    private static readonly int[] Curves = KeyShareGroups.Curves;

    private static readonly int[] FiniteFieldGroups = KeyShareGroups.FiniteFieldGroups;

    /// <summary>
    /// The groups to offer, in the server's order. TLS 1.2: the classical curves and RFC 7919 groups (hybrids are
    /// TLS 1.3 only). TLS 1.3: a copy of the configured groups, as <see cref="OrderTls13Groups"/> reorders it.
    /// </summary>
    public static int[] SupportedGroups(bool tls13, int[] tls13Groups) =>
        tls13 ? [.. tls13Groups] : [.. Curves, .. FiniteFieldGroups];

    /// <summary>
    /// Puts the configured groups the client sent a key share for first (<see cref="KeyShareGroups.OrderFor"/>), so
    /// the server's order never costs a HelloRetryRequest while a share is usable. BouncyCastle asks for the
    /// supported groups before it hands over the client's extensions and picks the key-share group from that same
    /// array afterwards, so <paramref name="groups"/> is reordered in place.
    /// </summary>
    /// <returns>
    /// The client's key share BouncyCastle will use (for the first of these groups the client supports); null when
    /// the client sent none for that group (a HelloRetryRequest follows) or no group is common.
    /// </returns>
    public static KeyShareEntry? OrderTls13Groups(int[] groups, int[]? offered, IList<KeyShareEntry>? shares)
    {
        KeyShareGroups.OrderFor(groups, shares).CopyTo(groups, 0);
        if (offered is null || shares is null) return null;
        foreach (var group in groups)
        {
            if (Array.IndexOf(offered, group) < 0) continue;
            for (var i = 0; i < shares.Count; i++)
            {
                if (shares[i].NamedGroup == group) return shares[i];
            }
            return null;
        }
        return null;
    }

    /// <summary>
    /// TLS 1.2 ECDHE curve: the client's first curve that is also ours, or -1. BouncyCastle's default ignores the
    /// server's groups before TLS 1.3 and takes the client's first curve of any kind (secp521r1, x448, brainpool,
    /// binary curves), whose ServerKeyExchange the key server then refuses to sign: a client that merely prefers such
    /// a curve would fail with internal_error.
    /// </summary>
    public static int SelectCurve(int[] offered, int minimumCurveBits)
    {
        foreach (var group in offered)
        {
            if (Array.IndexOf(Curves, group) >= 0 && NamedGroup.GetCurveBits(group) >= minimumCurveBits) return group;
        }
        return -1;
    }

    /// <summary>The largest of the client's curves that is also ours (0: none), so ECDHE suites are selectable only when <see cref="SelectCurve"/> will find one.</summary>
    public static int MaxCurveBits(int[] offered)
    {
        var max = 0;
        foreach (var group in offered)
        {
            if (Array.IndexOf(Curves, group) >= 0) max = Math.Max(max, NamedGroup.GetCurveBits(group));
        }
        return max;
    }

    /// <summary>
    /// TLS 1.2 DHE group: the client's first RFC 7919 group that is also ours, or -1; a client that names no
    /// finite-field group gets ffdhe2048 (RFC 7919 §4 lets the server choose). BouncyCastle's default would take any
    /// named group up to ffdhe8192 and, for such a client, its own pick among all five.
    /// </summary>
    public static int SelectFiniteFieldGroup(int[]? offered, int minimumFiniteFieldBits)
    {
        if (!NamesFiniteFieldGroup(offered))
            return NamedGroup.GetFiniteFieldBits(NamedGroup.ffdhe2048) >= minimumFiniteFieldBits ? NamedGroup.ffdhe2048 : -1;
        foreach (var group in offered)
        {
            if (Array.IndexOf(FiniteFieldGroups, group) >= 0 && NamedGroup.GetFiniteFieldBits(group) >= minimumFiniteFieldBits) return group;
        }
        return -1;
    }

    /// <summary>The largest DHE group <see cref="SelectFiniteFieldGroup"/> can pick (0: none), so DHE suites are selectable only when it will find one.</summary>
    public static int MaxFiniteFieldBits(int[]? offered)
    {
        if (!NamesFiniteFieldGroup(offered)) return NamedGroup.GetFiniteFieldBits(NamedGroup.ffdhe2048);
        var max = 0;
        foreach (var group in offered)
        {
            if (Array.IndexOf(FiniteFieldGroups, group) >= 0) max = Math.Max(max, NamedGroup.GetFiniteFieldBits(group));
        }
        return max;
    }

    private static bool NamesFiniteFieldGroup([NotNullWhen(true)] int[]? offered)
    {
        if (offered is null) return false;
        foreach (var group in offered)
        {
            if (NamedGroup.IsFiniteField(group)) return true;
        }
        return false;
    }
}
