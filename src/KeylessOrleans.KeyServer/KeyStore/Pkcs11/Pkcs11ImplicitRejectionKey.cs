using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace KeylessOrleans.KeyServer.KeyStore.Pkcs11;

/// <summary>
/// The secret key of an RSA key in a PKCS#11 token for deterministic implicit rejection
/// (<see cref="Tls.ImplicitRejection"/>): the private exponent cannot leave the token, so the answer for a bad
/// ciphertext is keyed by a 32-byte CKK_GENERIC_SECRET key that lives next to the RSA key and is used only with
/// CKM_SHA256_HMAC inside the token.
/// </summary>
/// <remarks>
/// Convention: class CKO_SECRET_KEY, key type CKK_GENERIC_SECRET, the RSA private key's CKA_ID, and the label
/// "&lt;RSA key's label&gt;.implicit-rejection"; token object, private, sensitive, not extractable, CKA_SIGN only.
/// </remarks>
internal static class Pkcs11ImplicitRejectionKey
{
    public const string LabelSuffix = ".implicit-rejection";
    public const int ValueLength = 32;

    public static string LabelFor(string rsaLabel) => rsaLabel + LabelSuffix;

    /// <summary>The search template for the secret key of the RSA key with <paramref name="rsaLabel"/> and <paramref name="rsaId"/>.</summary>
    public static List<IObjectAttribute> SearchTemplate(Pkcs11InteropFactories factories, string rsaLabel, byte[] rsaId)
    {
        var attributes = factories.ObjectAttributeFactory;
        var template = new List<IObjectAttribute>
        {
            attributes.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
            attributes.Create(CKA.CKA_KEY_TYPE, CKK.CKK_GENERIC_SECRET),
            attributes.Create(CKA.CKA_LABEL, LabelFor(rsaLabel)),
        };
        if (rsaId.Length > 0) template.Add(attributes.Create(CKA.CKA_ID, rsaId));
        return template;
    }

    /// <summary>Generates the secret key in the token. <paramref name="session"/> must be a logged-in read/write session.</summary>
    public static IObjectHandle Create(ISession session, Pkcs11InteropFactories factories, string rsaLabel, byte[] rsaId)
    {
        var attributes = factories.ObjectAttributeFactory;
        var template = new List<IObjectAttribute>
        {
            attributes.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
            attributes.Create(CKA.CKA_KEY_TYPE, CKK.CKK_GENERIC_SECRET),
            attributes.Create(CKA.CKA_VALUE_LEN, (ulong)ValueLength),
            attributes.Create(CKA.CKA_TOKEN, true),
            attributes.Create(CKA.CKA_PRIVATE, true),
            attributes.Create(CKA.CKA_LABEL, LabelFor(rsaLabel)),
            attributes.Create(CKA.CKA_ID, rsaId),
            attributes.Create(CKA.CKA_SENSITIVE, true),
            attributes.Create(CKA.CKA_EXTRACTABLE, false),
            attributes.Create(CKA.CKA_SIGN, true),
            attributes.Create(CKA.CKA_VERIFY, false),
            attributes.Create(CKA.CKA_ENCRYPT, false),
            attributes.Create(CKA.CKA_DECRYPT, false),
            attributes.Create(CKA.CKA_WRAP, false),
            attributes.Create(CKA.CKA_UNWRAP, false),
            attributes.Create(CKA.CKA_DERIVE, false),
        };
        return session.GenerateKey(factories.MechanismFactory.Create(CKM.CKM_GENERIC_SECRET_KEY_GEN), template);
    }
}
