using System.Numerics;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.KeyServer.Tls;

/// <summary>
/// The finite-field part of a TLS 1.2 DHE ServerKeyExchange (RFC 5246 §7.4.3): opaque dh_p&lt;1..2^16-1&gt;,
/// opaque dh_g&lt;1..2^16-1&gt;, opaque dh_Ys&lt;1..2^16-1&gt;. Only the RFC 7919 groups ffdhe2048/3072/4096 pass (the
/// exact prime, generator 2) with 1 &lt; Ys &lt; p − 1: a key server that signed any (p, g) would certify groups an
/// attacker chose (weak, composite or backdoored primes; Logjam-style downgrades). ffdhe6144/8192 are left out
/// on purpose: their cost per handshake on an edge is a denial-of-service lever, and no client needs them.
/// </summary>
internal static class ServerDHParams
{
    private static readonly (string Name, byte[] Prime)[] Groups =
    [
        ("ffdhe2048", DHStandardGroups.rfc7919_ffdhe2048.P.ToByteArrayUnsigned()),
        ("ffdhe3072", DHStandardGroups.rfc7919_ffdhe3072.P.ToByteArrayUnsigned()),
        ("ffdhe4096", DHStandardGroups.rfc7919_ffdhe4096.P.ToByteArrayUnsigned()),
    ];

    /// <summary>Returns null when <paramref name="dhParams"/> (the bytes after the randoms) is well-formed, else why not.</summary>
    public static string? Validate(ReadOnlySpan<byte> dhParams)
    {
        if (!TryReadOpaque16(ref dhParams, out var p) || !TryReadOpaque16(ref dhParams, out var g) || !TryReadOpaque16(ref dhParams, out var ys))
            return "ServerDHParams are truncated";
        if (!dhParams.IsEmpty) return $"{dhParams.Length} bytes follow the ServerDHParams";
        var group = Groups.Length - 1;
        while (group >= 0 && !p.SequenceEqual(Groups[group].Prime)) group--;
        if (group < 0) return $"the {p.Length * 8}-bit prime is not an RFC 7919 group this server uses (ffdhe2048/3072/4096)";
        if (g is not [2]) return $"the generator of {Groups[group].Name} must be 2";
        var prime = new BigInteger(p, isUnsigned: true, isBigEndian: true);
        var y = new BigInteger(ys, isUnsigned: true, isBigEndian: true);
        return y > BigInteger.One && y < prime - BigInteger.One ? null : $"Ys is not in (1, p − 1) for {Groups[group].Name}";
    }

    /// <summary>The ServerDHParams bytes for a named group and public value (edges and tests use this).</summary>
    public static byte[] Encode(string groupName, ReadOnlySpan<byte> ys)
    {
        var prime = Groups.Single(known => known.Name == groupName).Prime;
        return [.. Opaque16(prime), .. Opaque16([2]), .. Opaque16(ys)];
    }

    private static byte[] Opaque16(ReadOnlySpan<byte> value) => [(byte)(value.Length >> 8), (byte)value.Length, .. value];

    private static bool TryReadOpaque16(ref ReadOnlySpan<byte> input, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (input.Length < 2) return false;
        var length = input[0] << 8 | input[1];
        if (length == 0 || input.Length < 2 + length) return false;
        value = input.Slice(2, length);
        input = input[(2 + length)..];
        return true;
    }
}
