using System.Security.Cryptography;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.KeyStore.Pkcs11;
using KeylessOrleans.KeyServer.Tests.Conformance;
using KeylessOrleans.TestSupport;
using static KeylessOrleans.TestSupport.PremasterCiphertexts;

namespace KeylessOrleans.KeyServer.Tests.KeyStore;

/// <summary>Two RSA-2048 keys of one key store kind, with their SubjectPublicKeyInfo.</summary>
public interface IRsaKeyPair
{
    IPrivateKey Key { get; }
    IPrivateKey OtherKey { get; }
}

/// <summary>
/// Deterministic implicit rejection, whatever holds the key: asking twice with the same ciphertext gives the same
/// 48 bytes for good and for every kind of bad padding, so an authorized caller learns nothing by repeating a
/// question; bad ciphertexts still get answers that differ from each other and from key to key.
/// </summary>
public abstract class ImplicitRejectionTests<TKeys>(TKeys fixture) where TKeys : IRsaKeyPair
{
    protected TKeys Keys { get; } = fixture;

    public static TheoryData<string> Bad() => [.. BadKinds];

    [Fact]
    public void A_good_ciphertext_yields_the_real_premaster_every_time()
    {
        var (ciphertext, premaster) = Make(Keys.Key.SubjectPublicKeyInfo, Good);
        Assert.Equal(premaster, Keys.Key.DecryptPremaster(ciphertext, Tls12));
        Assert.Equal(premaster, Keys.Key.DecryptPremaster(ciphertext, Tls12));
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public void A_bad_ciphertext_yields_the_same_48_bytes_each_time_and_not_its_plaintext(string kind)
    {
        var (ciphertext, embedded) = Make(Keys.Key.SubjectPublicKeyInfo, kind);

        var first = Keys.Key.DecryptPremaster(ciphertext, Tls12);
        var second = Keys.Key.DecryptPremaster(ciphertext, Tls12);

        Assert.Equal(48, first.Length);
        Assert.Equal(first, second);
        Assert.NotEqual(embedded, first);
        Assert.NotEqual(new byte[48], first);
    }

    [Fact]
    public void A_good_ciphertext_asked_with_another_client_version_yields_the_same_48_bytes_each_time_but_not_the_premaster()
    {
        var (ciphertext, premaster) = Make(Keys.Key.SubjectPublicKeyInfo, Good);
        var first = Keys.Key.DecryptPremaster(ciphertext, 0x0302);
        Assert.Equal(first, Keys.Key.DecryptPremaster(ciphertext, 0x0302));
        Assert.NotEqual(premaster, first);
    }

    [Theory]
    [InlineData("block type 0x01")]
    [InlineData("no zero separator")]
    [InlineData("wrong client version")]
    [InlineData("one byte short")]
    public void Different_bad_ciphertexts_get_different_answers(string kind)
    {
        var answers = Enumerable.Range(0, 16)
            .Select(_ => Convert.ToHexString(Keys.Key.DecryptPremaster(Make(Keys.Key.SubjectPublicKeyInfo, kind).Ciphertext, Tls12)))
            .ToList();
        Assert.Equal(answers.Count, answers.Distinct().Count());
    }

    [Theory]
    [InlineData("block type 0x01")]
    [InlineData("no zero separator")]
    [InlineData("c above n")]
    [InlineData("one byte long")]
    public void Two_keys_answer_the_same_bad_ciphertext_differently(string kind)
    {
        // Made for the first key; for the second it is as bad (a wrong length or c ≥ n for both, and a random-looking
        // number whose plaintext has valid padding with negligible probability).
        var (ciphertext, _) = Make(Keys.Key.SubjectPublicKeyInfo, kind);
        Assert.NotEqual(Keys.Key.DecryptPremaster(ciphertext, Tls12), Keys.OtherKey.DecryptPremaster(ciphertext, Tls12));
    }
}

/// <summary>Two RSA keys held in this process, as the PEM key store holds them.</summary>
public sealed class PemRsaKeyPair : IRsaKeyPair, IDisposable
{
    public PemRsaKeyPair()
    {
        var rsa = new RSAOpenSsl(2048);
        D = rsa.ExportParameters(true).D!;
        Key = new RsaPrivateKey(rsa);
        OtherKey = new RsaPrivateKey(new RSAOpenSsl(2048));
    }

    public IPrivateKey Key { get; }
    public IPrivateKey OtherKey { get; }
    public byte[] D { get; }

    public void Dispose()
    {
        Key.Dispose();
        OtherKey.Dispose();
    }
}

public sealed class PemImplicitRejectionTests(PemRsaKeyPair fixture)
    : ImplicitRejectionTests<PemRsaKeyPair>(fixture), IClassFixture<PemRsaKeyPair>
{
    /// <summary>The construction docs/security.md documents, recomputed here with the BCL alone.</summary>
    [Theory]
    [InlineData("no zero separator")]
    [InlineData("c above n")]
    [InlineData("empty")]
    public void The_answer_is_hkdf_sha256_of_the_ciphertext_under_sha256_of_d(string kind)
    {
        var (ciphertext, _) = Make(Keys.Key.SubjectPublicKeyInfo, kind);
        var key = SHA256.HashData(Keys.D);
        byte[] input = [.. "keyless implicit rejection"u8, .. ciphertext];
        var prk = HMACSHA256.HashData(key, input);
        var expected = HKDF.Expand(HashAlgorithmName.SHA256, prk, 48, "keyless implicit rejection premaster"u8.ToArray());

        Assert.Equal(expected, Keys.Key.DecryptPremaster(ciphertext, Tls12));
    }
}

/// <summary>Two RSA keys generated in a SoftHSM2 token, each with its implicit-rejection key as onboarding makes it.</summary>
public sealed class SoftHsmRsaKeyPair : IRsaKeyPair, IDisposable
{
    private readonly Pkcs11KeySet _keys;

    public SoftHsmRsaKeyPair()
    {
        var token = SoftHsm.Instance.CreateToken($"rejection-{Guid.NewGuid():n}"[..24]);
        token.GenerateRsa("first-rsa");
        token.GenerateRsa("second-rsa");
        _keys = new Pkcs11KeySet([token.Uri("first-rsa"), token.Uri("second-rsa")], 2, new ListLogger<Pkcs11KeySet>());
        Key = _keys.Keys[0];
        OtherKey = _keys.Keys[1];
    }

    public IPrivateKey Key { get; }
    public IPrivateKey OtherKey { get; }

    public void Dispose() => _keys.Dispose();
}

[Collection(SoftHsmCollection.Name)]
public sealed class Pkcs11ImplicitRejectionTests(SoftHsmRsaKeyPair fixture)
    : ImplicitRejectionTests<SoftHsmRsaKeyPair>(fixture), IClassFixture<SoftHsmRsaKeyPair>;
