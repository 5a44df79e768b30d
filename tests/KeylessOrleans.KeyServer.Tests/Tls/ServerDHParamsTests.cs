using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.KeyServer.Tests.Tls;

public sealed class ServerDHParamsTests
{
    private static readonly byte[] Randoms = RandomNumberGenerator.GetBytes(64);

    /// <summary>A real public value: 2^x mod p for a random x.</summary>
    internal static byte[] PublicValue(DHGroup group)
    {
        var x = new Org.BouncyCastle.Math.BigInteger(1, RandomNumberGenerator.GetBytes(32));
        return group.G.ModPow(x, group.P).ToByteArrayUnsigned();
    }

    internal static byte[] ValidFfdhe2048Params() => [.. Randoms, .. ServerDHParams.Encode("ffdhe2048", PublicValue(DHStandardGroups.rfc7919_ffdhe2048))];

    private static byte[] Params(byte[] p, byte[] g, byte[] ys) =>
        [.. Randoms, (byte)(p.Length >> 8), (byte)p.Length, .. p, (byte)(g.Length >> 8), (byte)g.Length, .. g, (byte)(ys.Length >> 8), (byte)ys.Length, .. ys];

    [Theory]
    [InlineData("ffdhe2048")]
    [InlineData("ffdhe3072")]
    [InlineData("ffdhe4096")]
    public void Rfc7919_groups_with_a_public_value_in_range_pass(string name)
    {
        var group = name switch
        {
            "ffdhe2048" => DHStandardGroups.rfc7919_ffdhe2048,
            "ffdhe3072" => DHStandardGroups.rfc7919_ffdhe3072,
            _ => DHStandardGroups.rfc7919_ffdhe4096,
        };
        Assert.Null(ServerKeyExchangeParams.Validate([.. Randoms, .. ServerDHParams.Encode(name, PublicValue(group))]));
    }

    public static TheoryData<string, byte[]> Refused()
    {
        var ffdhe2048 = DHStandardGroups.rfc7919_ffdhe2048;
        var p = ffdhe2048.P.ToByteArrayUnsigned();
        var ys = PublicValue(ffdhe2048);
        var pMinus1 = (ffdhe2048.P.Subtract(Org.BouncyCastle.Math.BigInteger.One)).ToByteArrayUnsigned();
        var nearlyP = (byte[])p.Clone();
        nearlyP[^1] ^= 0x02; // one bit off: a non-standard (and not prime-checked) modulus
        // RFC 3526 group 14: a well-known safe prime, but not an RFC 7919 group.
        var modp2048 = Org.BouncyCastle.Crypto.Agreement.DHStandardGroups.rfc3526_2048.P.ToByteArrayUnsigned();
        var valid = ValidFfdhe2048Params();
        return new TheoryData<string, byte[]>
        {
            { "non-standard prime", Params(nearlyP, [2], ys) },
            { "RFC 3526 MODP prime", Params(modp2048, [2], ys) },
            { "ffdhe6144 (not offered)", Params(DHStandardGroups.rfc7919_ffdhe6144.P.ToByteArrayUnsigned(), [2], ys) },
            { "generator 5", Params(p, [5], ys) },
            { "Ys = 0", Params(p, [2], [0]) },
            { "Ys = 1", Params(p, [2], [1]) },
            { "Ys = p - 1", Params(p, [2], pMinus1) },
            { "Ys = p", Params(p, [2], p) },
            { "Ys > p", Params(p, [2], [.. p, 0]) },
            { "trailing bytes", [.. valid, 0] },
            { "truncated", valid[..^1] },
        };
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void Anything_but_a_named_rfc7919_group_and_a_valid_public_value_is_refused(string why, byte[] signedParams)
    {
        Assert.True(ServerKeyExchangeParams.Validate(signedParams) is not null, why);
    }

    [Fact]
    public void No_accepted_dh_params_parse_as_ecdh_params_and_the_first_byte_tells_them_apart()
    {
        var dh = ValidFfdhe2048Params();
        Assert.InRange(dh[64], 0x01, 0x02);
        Assert.NotEqual(ServerKeyExchangeParams.NamedCurve, dh[64]);
    }
}
