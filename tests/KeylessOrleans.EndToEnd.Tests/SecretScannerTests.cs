using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>The custody scan can only pass honestly if <see cref="SecretScanner"/> finds every form it claims to.</summary>
public sealed class SecretScannerTests
{
    private static readonly byte[] Secret = RandomNumberGenerator.GetBytes(48);

    public static TheoryData<string, string> Leaks() => new()
    {
        { "hex", "master=" + Convert.ToHexStringLower(Secret) + ";" },
        { "HEX", "Master-Key: " + Convert.ToHexString(Secret) + "\n" },
        { "HEX-dashed", "bytes " + BitConverter.ToString(Secret) + " end" },
        { "decimal", "d = " + new BigInteger(Secret, isUnsigned: true, isBigEndian: true) + "," },
        { "base64+0", "{\"s\":\"" + Convert.ToBase64String(Secret) + "\"}" },
        { "base64+1", "{\"blob\":\"" + Convert.ToBase64String([1, .. Secret, 2, 3]) + "\"}" },
        { "base64+2", "{\"blob\":\"" + Convert.ToBase64String([1, 2, .. Secret]) + "\"}" },
    };

    [Theory]
    [MemberData(nameof(Leaks))]
    public void A_secret_is_found_in_each_form_inside_other_text(string form, string text)
    {
        var scanner = new SecretScanner();
        scanner.AddSecret("premaster", Secret);

        var hit = Assert.Single(scanner.Scan("log", text));
        Assert.Equal(form, hit.Form);
    }

    [Fact]
    public void Raw_bytes_inside_binary_data_are_found()
    {
        var scanner = new SecretScanner();
        scanner.AddSecret("scalar", Secret);

        var hit = Assert.Single(scanner.Scan("redis value", [.. RandomNumberGenerator.GetBytes(100), .. Secret, 0]));
        Assert.Equal(("raw", 100), (hit.Form, hit.Offset));
    }

    [Fact]
    public void A_near_miss_is_not_a_hit()
    {
        var scanner = new SecretScanner();
        scanner.AddSecret("premaster", Secret);
        var almost = Secret.ToArray();
        almost[^1] ^= 1;
        scanner.AddText("pem line", "MIIEowIBAAKCAQEAtest");

        var text = Encoding.ASCII.GetBytes(Convert.ToHexString(almost) + Convert.ToBase64String(almost[..45]) + "MIIEowIBAAKCAQEAtes");
        Assert.Empty(scanner.Scan("log", [.. text, .. almost]));
    }

    [Fact]
    public void Secrets_short_enough_to_match_by_chance_are_refused() =>
        Assert.Throws<ArgumentException>(() => new SecretScanner().AddSecret("tiny", new byte[8]));
}
