using KeylessOrleans.KeyServer.KeyStore.Pkcs11;
using KeylessOrleans.KeyServer.Tests.Conformance;
using KeylessOrleans.TestSupport;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using Pkcs11Uri = KeylessOrleans.KeyServer.KeyStore.Pkcs11.Pkcs11Uri;

namespace KeylessOrleans.KeyServer.Tests.KeyStore;

/// <summary>What a bank's security team checks of the HSM path: keys that cannot leave, start-up errors that say what is wrong.</summary>
[Collection(SoftHsmCollection.Name)]
public sealed class Pkcs11KeyStoreTests
{
    private static readonly Lazy<HsmToken> Token = new(() =>
    {
        var token = SoftHsm.Instance.CreateToken("custody");
        token.GenerateRsa("bank-rsa");
        token.GenerateEcP256("bank-ec");
        return token;
    });

    private static ArgumentException LoadFails(params string[] uris) =>
        Assert.Throws<ArgumentException>(() => new Pkcs11KeySet(uris, 2, new ListLogger<Pkcs11KeySet>()).Dispose());

    [Fact]
    public void Generated_keys_are_sensitive_not_extractable_and_their_secret_cannot_be_read()
    {
        var token = Token.Value;
        Pkcs11Native.EnsureResolver();
        var factories = new Pkcs11InteropFactories();
        using var library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, SoftHsm.Module, AppType.MultiThreaded);
        var slot = library.GetSlotList(SlotsType.WithTokenPresent).Single(s => s.GetTokenInfo().Label.Trim() == token.Label);
        using var session = slot.OpenSession(SessionType.ReadOnly);
        session.Login(CKU.CKU_USER, token.Pin);
        var keys = session.FindAllObjects([factories.ObjectAttributeFactory.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY)]);
        Assert.Equal(2, keys.Count);
        foreach (var key in keys)
        {
            var flags = session.GetAttributeValue(key, [CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE]);
            Assert.True(flags[0].GetValueAsBool());
            Assert.False(flags[1].GetValueAsBool());
            var secret = session.GetAttributeValue(key, [CKA.CKA_VALUE, CKA.CKA_PRIVATE_EXPONENT]);
            Assert.All(secret, attribute => Assert.True(attribute.CannotBeRead));
        }
        session.Logout();
    }

    [Fact]
    public void Keys_load_from_uris_with_a_pin_from_a_file_or_the_environment()
    {
        Environment.SetEnvironmentVariable("KEYLESS_TEST_HSM_PIN", Token.Value.Pin);
        using var keys = new Pkcs11KeySet([Token.Value.Uri("bank-rsa"), Token.Value.Uri("bank-ec", "env:KEYLESS_TEST_HSM_PIN")], 2, new ListLogger<Pkcs11KeySet>());
        Assert.Equal([Keys.KeyAlgorithm.Rsa, Keys.KeyAlgorithm.EcdsaP256], keys.Keys.Select(k => k.Algorithm));
    }

    [Fact]
    public void A_wrong_pin_is_a_start_up_error_naming_the_pin_source()
    {
        Environment.SetEnvironmentVariable("KEYLESS_TEST_WRONG_PIN", "000000");
        var error = LoadFails(Token.Value.Uri("bank-rsa", "env:KEYLESS_TEST_WRONG_PIN"));
        Assert.Contains("pin-source=env:KEYLESS_TEST_WRONG_PIN", error.Message);
        Assert.Contains("PIN", error.Message);
    }

    [Fact]
    public void A_missing_token_is_a_start_up_error_naming_the_token()
    {
        var error = LoadFails(Token.Value.Uri("bank-rsa").Replace("token=custody", "token=nosuchtoken"));
        Assert.Contains("token=nosuchtoken", error.Message);
        Assert.Contains("custody", error.Message); // the tokens that are there
    }

    [Fact]
    public void A_missing_object_is_a_start_up_error_naming_the_object()
    {
        var error = LoadFails(Token.Value.Uri("no-such-key"));
        Assert.Contains("object=no-such-key", error.Message);
    }

    [Fact]
    public void A_module_that_cannot_be_loaded_is_a_start_up_error_naming_the_module_path()
    {
        var error = LoadFails(Token.Value.Uri("bank-rsa").Replace(SoftHsm.Module, "/nonexistent/libpkcs11.so"));
        Assert.Contains("module-path=/nonexistent/libpkcs11.so", error.Message);
    }

    [Theory]
    [InlineData("pkcs11:token=custody;object=k?module-path=/m.so&pin-value=1234", "pin-value is not allowed")]
    [InlineData("pkcs11:token=custody;object=k?pin-source=file:/p", "no module-path")]
    [InlineData("pkcs11:token=custody;object=k?module-path=/m.so", "no pin-source")]
    [InlineData("pkcs11:token=custody?module-path=/m.so&pin-source=file:/p", "names no key")]
    [InlineData("file:/etc/keys/site.pem", "not a PKCS#11 URI")]
    [InlineData("pkcs11:token=custody;object=k;type=cert?module-path=/m.so&pin-source=file:/p", "type=private")]
    public void Uris_that_cannot_work_are_refused_with_the_reason(string uri, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => Pkcs11Uri.Parse(uri));
        Assert.Contains(reason, error.Message);
        Assert.DoesNotContain("1234", error.Message);
    }

    [Fact]
    public void Percent_encoded_labels_and_ids_are_decoded()
    {
        var uri = Pkcs11Uri.Parse("pkcs11:token=My%20Bank;object=www%2Dkey;id=%01%ff?module-path=/m.so&pin-source=env:P");
        Assert.Equal("My Bank", uri.Token);
        Assert.Equal("www-key", uri.Object);
        Assert.Equal(new byte[] { 0x01, 0xff }, uri.Id);
    }
}
