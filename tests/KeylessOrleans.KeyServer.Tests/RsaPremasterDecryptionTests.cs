using System.Security.Cryptography;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.KeyServer.Tests;

/// <summary>
/// RFC 5246 §7.4.7.1 with deterministic implicit rejection: every bad ciphertext yields 48 bytes, never an error,
/// and the same ciphertext always yields the same bytes, so asking twice tells nothing about the padding.
/// </summary>
public sealed class RsaPremasterDecryptionTests(KeyOperationsFixture fixture) : IClassFixture<KeyOperationsFixture>
{
    private const ushort Tls12 = 0x0303;
    private string RsaKeyId => fixture.Folder.RsaKeyId;
    private int ModulusLength => fixture.Folder.RsaPublic.KeySize / 8;

    [Fact]
    public void Valid_ciphertext_round_trips_the_premaster()
    {
        byte[] premaster = [0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
        var ciphertext = fixture.Folder.RsaPublic.Encrypt(premaster, RSAEncryptionPadding.Pkcs1);

        var result = fixture.Store.DecryptPremaster(RsaKeyId, ciphertext, Tls12);

        Assert.Equal(KeyOperationStatus.Ok, result.Status);
        Assert.Equal(premaster, result.Output);
    }

    public static TheoryData<string> InvalidClasses() =>
        ["block type 0x01", "block type 0x00", "zero inside the padding (premaster longer than 48)", "no zero separator", "wrong client version",
         "TLS 1.0 client version", "separator one byte early (premaster of 49 bytes)"];

    [Theory]
    [MemberData(nameof(InvalidClasses))]
    public void Badly_padded_ciphertext_yields_the_same_48_bytes_each_time(string invalidClass)
    {
        var (ciphertext, embedded) = PremasterCiphertexts.Make(fixture.Folder.Rsa.SubjectPublicKeyInfo, invalidClass);

        var first = fixture.Store.DecryptPremaster(RsaKeyId, ciphertext, Tls12);
        var second = fixture.Store.DecryptPremaster(RsaKeyId, ciphertext, Tls12);

        Assert.Equal(KeyOperationStatus.Ok, first.Status);
        Assert.Equal(KeyOperationStatus.Ok, second.Status);
        Assert.Null(first.Detail);
        Assert.Equal(48, first.Output!.Length);
        Assert.Equal(48, second.Output!.Length);
        Assert.Equal(first.Output, second.Output);
        Assert.NotEqual(embedded, first.Output);
    }

    public static TheoryData<string, int> WrongLengths() => new()
    {
        { "one byte short", -1 }, { "one byte long", 1 }, { "empty", int.MinValue }, { "half", -128 },
    };

    [Theory]
    [MemberData(nameof(WrongLengths))]
    public void Ciphertext_of_the_wrong_length_yields_the_same_48_bytes_each_time(string variant, int delta)
    {
        var length = delta == int.MinValue ? 0 : ModulusLength + delta;
        var ciphertext = RandomNumberGenerator.GetBytes(length);

        var first = fixture.Store.DecryptPremaster(RsaKeyId, ciphertext, Tls12);
        var second = fixture.Store.DecryptPremaster(RsaKeyId, ciphertext, Tls12);

        Assert.True(first.IsOk, variant);
        Assert.Equal(48, first.Output!.Length);
        Assert.Equal(first.Output, second.Output);
    }

    [Fact]
    public void Ciphertext_not_below_the_modulus_yields_the_same_48_bytes_each_time()
    {
        var ciphertext = Enumerable.Repeat((byte)0xFF, ModulusLength).ToArray();
        var first = fixture.Store.DecryptPremaster(RsaKeyId, ciphertext, Tls12);
        var second = fixture.Store.DecryptPremaster(RsaKeyId, ciphertext, Tls12);
        Assert.True(first.IsOk);
        Assert.Equal(48, first.Output!.Length);
        Assert.Equal(first.Output, second.Output);
    }
}
