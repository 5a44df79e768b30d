using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Tls;

namespace KeylessOrleans.KeyServer.Tests.Tls;

public sealed class ServerKeyExchangeParamsTests
{
    private static readonly byte[] ClientRandom = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] ServerRandom = RandomNumberGenerator.GetBytes(32);

    internal static byte[] UncompressedPoint(ECCurve curve)
    {
        using var ecdh = ECDiffieHellman.Create(curve);
        var q = ecdh.ExportParameters(false).Q;
        return [0x04, .. q.X!, .. q.Y!];
    }

    internal static byte[] ValidP256Params() =>
        ServerKeyExchangeParams.Build(ClientRandom, ServerRandom, ServerKeyExchangeParams.Secp256r1, UncompressedPoint(ECCurve.NamedCurves.nistP256));

    [Fact]
    public void Named_curve_params_with_valid_points_pass_for_every_allowed_group()
    {
        Assert.Null(ServerKeyExchangeParams.Validate(ValidP256Params()));
        Assert.Null(ServerKeyExchangeParams.Validate(ServerKeyExchangeParams.Build(ClientRandom, ServerRandom,
            ServerKeyExchangeParams.Secp384r1, UncompressedPoint(ECCurve.NamedCurves.nistP384))));
        Assert.Null(ServerKeyExchangeParams.Validate(ServerKeyExchangeParams.Build(ClientRandom, ServerRandom,
            ServerKeyExchangeParams.X25519, RandomNumberGenerator.GetBytes(32))));
    }

    public static TheoryData<string, byte[]> Malformed()
    {
        var good = ValidP256Params();
        byte[] With(Action<byte[]> change) { var copy = (byte[])good.Clone(); change(copy); return copy; }
        var p256 = UncompressedPoint(ECCurve.NamedCurves.nistP256);
        var offCurve = (byte[])p256.Clone();
        offCurve[^1] ^= 0x01;
        return new TheoryData<string, byte[]>
        {
            { "explicit_prime curve type (1)", With(b => b[64] = 1) },
            { "explicit_char2 curve type (2)", With(b => b[64] = 2) },
            { "secp521r1 is not allowed", With(b => { b[65] = 0x00; b[66] = 0x19; }) },
            { "ffdhe2048 is not an EC group", With(b => { b[65] = 0x01; b[66] = 0x00; }) },
            { "point length byte too large", With(b => b[67] = 66) },
            { "point length byte too small", With(b => b[67] = 64) },
            { "trailing byte after the point", [.. good, 0x00] },
            { "compressed point", ServerKeyExchangeParams.Build(ClientRandom, ServerRandom, ServerKeyExchangeParams.Secp256r1, [0x02, .. p256[1..33]]) },
            { "uncompressed marker missing", With(b => b[68] = 0x05) },
            { "point not on the curve", ServerKeyExchangeParams.Build(ClientRandom, ServerRandom, ServerKeyExchangeParams.Secp256r1, offCurve) },
            { "P-256 point sent as secp384r1", With(b => b[66] = 0x18) },
            { "x25519 key of 31 bytes", ServerKeyExchangeParams.Build(ClientRandom, ServerRandom, ServerKeyExchangeParams.X25519, new byte[31]) },
            { "truncated inside the randoms", good[..40] },
            { "truncated inside the point", good[..100] },
            { "randoms only", good[..64] },
            { "empty input", [] },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_server_key_exchange_params_are_rejected_with_a_reason(string variant, byte[] signedParams)
    {
        var problem = ServerKeyExchangeParams.Validate(signedParams);
        Assert.False(string.IsNullOrEmpty(problem), variant);
    }
}
