using Org.BouncyCastle.Asn1.X9;

namespace KeylessOrleans.KeyServer.Tls;

/// <summary>
/// The input a TLS 1.2 server signs in a ServerKeyExchange: client_random (32) ‖ server_random (32) ‖ either
/// ServerECDHParams (RFC 8422 §5.4) { curve_type = named_curve (3), NamedGroup, opaque point&lt;1..255&gt; }, of which
/// only x25519, secp256r1 and secp384r1 with a valid uncompressed point pass, or ServerDHParams (DHE, RFC 7919
/// groups only: <see cref="ServerDHParams"/>). The first byte tells them apart without ambiguity: the DH form
/// starts with the length of a 2048–4096-bit prime (0x01 or 0x02), never with named_curve's 3.
/// </summary>
internal static class ServerKeyExchangeParams
{
    public const int RandomLength = 32;
    public const byte NamedCurve = 3;
    public const ushort X25519 = 0x001d, Secp256r1 = 0x0017, Secp384r1 = 0x0018;

    private static readonly X9ECParameters P256 = ECNamedCurveTable.GetByName("P-256");
    private static readonly X9ECParameters P384 = ECNamedCurveTable.GetByName("P-384");

    /// <summary>Returns null when <paramref name="signedParams"/> is well-formed, else why not.</summary>
    public static string? Validate(ReadOnlySpan<byte> signedParams)
    {
        const int headerLength = 2 * RandomLength + 4; // randoms, curve_type, NamedGroup, point length
        if (signedParams.Length < headerLength) return "ServerKeyExchange params are truncated";
        var ecdh = signedParams[(2 * RandomLength)..];
        if (ecdh[0] is 0x01 or 0x02) return ServerDHParams.Validate(ecdh);
        if (ecdh[0] != NamedCurve) return $"curve_type {ecdh[0]} is not named_curve (explicit curves are not allowed)";
        var group = (ushort)(ecdh[1] << 8 | ecdh[2]);
        int pointLength = ecdh[3];
        var point = ecdh[4..];
        if (point.Length != pointLength) return $"point length byte says {pointLength} but {point.Length} bytes follow";
        return group switch
        {
            X25519 => pointLength == 32 ? null : $"x25519 public key is {pointLength} bytes, not 32",
            Secp256r1 => ValidateUncompressedPoint(point, P256, 65, "secp256r1"),
            Secp384r1 => ValidateUncompressedPoint(point, P384, 97, "secp384r1"),
            _ => $"named group 0x{group:x4} is not allowed",
        };
    }

    private static string? ValidateUncompressedPoint(ReadOnlySpan<byte> point, X9ECParameters curve, int length, string name)
    {
        if (point.Length != length) return $"{name} point is {point.Length} bytes, not {length}";
        if (point[0] != 0x04) return $"{name} point is not in uncompressed form";
        try
        {
            var decoded = curve.Curve.DecodePoint(point.ToArray());
            return decoded.IsValid() && !decoded.IsInfinity ? null : $"{name} point is not on the curve";
        }
        catch (ArgumentException)
        {
            return $"{name} point is not on the curve";
        }
    }

    /// <summary>Builds the signed input (edges and tests use this).</summary>
    public static byte[] Build(ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom, ushort group, ReadOnlySpan<byte> point)
    {
        var result = new byte[2 * RandomLength + 4 + point.Length];
        clientRandom.CopyTo(result);
        serverRandom.CopyTo(result.AsSpan(RandomLength));
        var ecdh = result.AsSpan(2 * RandomLength);
        ecdh[0] = NamedCurve;
        ecdh[1] = (byte)(group >> 8);
        ecdh[2] = (byte)group;
        ecdh[3] = (byte)point.Length;
        point.CopyTo(ecdh[4..]);
        return result;
    }
}
