using System.Security.Cryptography;
using KeylessOrleans.Keys;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// A tenant's key folder as a key server reads it: one file per key type, holding the private key followed
/// by its certificate chain, all generated afresh. Keeps the keys' secrets so tests can hunt for leaks.
/// </summary>
public sealed class TenantKeyFolder : IDisposable
{
    private readonly TempDirectory _directory;

    /// <param name="delegationUsage">The ECDSA certificate carries RFC 9345 DelegationUsage (edges may serve delegated credentials).</param>
    public TenantKeyFolder(TestCertificateAuthority ca, string[] hostNames, bool withEd25519 = false, bool delegationUsage = false)
    {
        _directory = new TempDirectory("keyless-keys");
        (Rsa, RsaPublic) = TestKeys.Rsa(2048, TestKeys.Format.Pkcs1);
        (Ecdsa, EcdsaPublic) = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256, TestKeys.Format.Sec1);
        Write("rsa.pem", Rsa, ca, hostNames);
        Add("ecdsa.pem", Ecdsa, ca, new LeafExtras(DelegationUsage: delegationUsage), hostNames);
        if (withEd25519)
        {
            (Ed25519, _) = TestKeys.Ed25519();
            Write("ed25519.pem", Ed25519, ca, hostNames);
        }
    }

    public string Path => _directory.Path;
    public TestKey Rsa { get; }
    public RSA RsaPublic { get; }
    public TestKey Ecdsa { get; }
    public ECDsa EcdsaPublic { get; }
    public TestKey? Ed25519 { get; }

    public string RsaKeyId => KeyIds.FromSubjectPublicKeyInfo(Rsa.SubjectPublicKeyInfo);
    public string EcdsaKeyId => KeyIds.FromSubjectPublicKeyInfo(Ecdsa.SubjectPublicKeyInfo);

    public IEnumerable<TestKey> AllKeys => new[] { Rsa, Ecdsa, Ed25519 }.OfType<TestKey>();

    private void Write(string file, TestKey key, TestCertificateAuthority ca, string[] hostNames) => Add(file, key, ca, LeafExtras.None, hostNames);

    /// <summary>Adds a key and a certificate chain for it (before the key server starts, or as a hot-reload change).</summary>
    /// <returns>The end-entity certificate's DER.</returns>
    public byte[] Add(string file, TestKey key, TestCertificateAuthority ca, LeafExtras extras, params string[] hostNames)
    {
        using var leaf = ca.Issue(key.SubjectPublicKeyInfo, extras, hostNames);
        _directory.Write(file, key.Pem + "\n" + ca.ChainPem(leaf));
        return leaf.RawData;
    }

    public void Dispose()
    {
        RsaPublic.Dispose();
        EcdsaPublic.Dispose();
        _directory.Dispose();
    }
}
