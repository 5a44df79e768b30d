using System.Security.Cryptography;
using KeylessOrleans.KeyServer.KeyStore.Pkcs11;
using KeylessOrleans.KeyServer.Tests.Conformance;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Logging;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using static KeylessOrleans.TestSupport.PremasterCiphertexts;

namespace KeylessOrleans.KeyServer.Tests.KeyStore;

/// <summary>
/// The HSM's implicit-rejection key, as a bank's security team sees it: nothing is created in a token unless
/// configured; a key without it refuses decryption loudly; a created one is sensitive, not extractable and stays.
/// </summary>
[Collection(SoftHsmCollection.Name)]
public sealed class Pkcs11ImplicitRejectionKeyTests
{
    [Fact]
    public void An_rsa_key_without_its_implicit_rejection_key_signs_but_refuses_every_decryption_and_says_why()
    {
        var token = SoftHsm.Instance.CreateToken($"missing-{Guid.NewGuid():n}"[..24]);
        var spki = token.GenerateRsa("legacy-rsa", withImplicitRejectionKey: false);
        var logger = new ListLogger<Pkcs11KeySet>();
        using (var keys = new Pkcs11KeySet([token.Uri("legacy-rsa")], 2, logger))
        {
            var key = Assert.Single(keys.Keys);
            Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("legacy-rsa.implicit-rejection") && e.Message.Contains("refused"));
            var signature = key.Sign(SignatureScheme.RsaPssRsaeSha256, "content"u8);
            Assert.True(IndependentVerifier.Verify(SignatureScheme.RsaPssRsaeSha256, spki, "content"u8.ToArray(), signature));
            foreach (var kind in new[] { Good, "no zero separator" })
            {
                var error = Assert.Throws<CryptographicException>(() => key.DecryptPremaster(Make(spki, kind).Ciphertext, Tls12));
                Assert.Contains("legacy-rsa.implicit-rejection", error.Message);
            }
        }
        Assert.Equal(0, CountSecretKeys(token));
    }

    [Fact]
    public void With_the_create_option_the_missing_key_is_generated_once_sensitive_not_extractable_and_kept()
    {
        var token = SoftHsm.Instance.CreateToken($"create-{Guid.NewGuid():n}"[..24]);
        var spki = token.GenerateRsa("new-rsa", withImplicitRejectionKey: false);
        var (bad, _) = Make(spki, "no zero separator");
        var (good, premaster) = Make(spki, Good);

        byte[] firstAnswer;
        var creating = new ListLogger<Pkcs11KeySet>();
        using (var keys = new Pkcs11KeySet([token.Uri("new-rsa")], 2, creating, createImplicitRejectionKeys: true))
        {
            firstAnswer = keys.Keys[0].DecryptPremaster(bad, Tls12);
            Assert.Equal(premaster, keys.Keys[0].DecryptPremaster(good, Tls12));
        }
        Assert.Contains(creating.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Created implicit-rejection key 'new-rsa.implicit-rejection'"));

        var reopening = new ListLogger<Pkcs11KeySet>();
        using (var keys = new Pkcs11KeySet([token.Uri("new-rsa")], 2, reopening, createImplicitRejectionKeys: true))
            Assert.Equal(firstAnswer, keys.Keys[0].DecryptPremaster(bad, Tls12));
        Assert.DoesNotContain(reopening.Entries, e => e.Message.Contains("implicit-rejection"));

        Assert.Equal(1, CountSecretKeys(token, check: (session, key) =>
        {
            var values = session.GetAttributeValue(key, [CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_TOKEN, CKA.CKA_SIGN, CKA.CKA_ID, CKA.CKA_LABEL]);
            Assert.True(values[0].GetValueAsBool());
            Assert.False(values[1].GetValueAsBool());
            Assert.True(values[2].GetValueAsBool());
            Assert.True(values[3].GetValueAsBool());
            Assert.Equal("new-rsa"u8.ToArray(), values[4].GetValueAsByteArray());
            Assert.Equal("new-rsa.implicit-rejection", values[5].GetValueAsString());
            Assert.True(session.GetAttributeValue(key, [CKA.CKA_VALUE])[0].CannotBeRead);
        }));
    }

    /// <summary>Counts (and checks) the token's secret keys through a session of its own; no key set may be open.</summary>
    private static int CountSecretKeys(HsmToken token, Action<ISession, IObjectHandle>? check = null)
    {
        Pkcs11Native.EnsureResolver();
        var factories = new Pkcs11InteropFactories();
        using var library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, SoftHsm.Module, AppType.MultiThreaded);
        var slot = library.GetSlotList(SlotsType.WithTokenPresent).Single(s => s.GetTokenInfo().Label.Trim() == token.Label);
        using var session = slot.OpenSession(SessionType.ReadOnly);
        session.Login(CKU.CKU_USER, token.Pin);
        var found = session.FindAllObjects([factories.ObjectAttributeFactory.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY)]);
        foreach (var key in found) check?.Invoke(session, key);
        session.Logout();
        return found.Count;
    }
}
