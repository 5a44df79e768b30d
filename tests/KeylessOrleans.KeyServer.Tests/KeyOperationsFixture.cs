using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.KeyServer.Tests;

/// <summary>A PEM key folder with RSA-2048, ECDSA P-256/P-384 and Ed25519 keys, loaded into a real <see cref="PemKeyStore"/>.</summary>
public sealed class KeyOperationsFixture : IDisposable
{
    public KeyOperationsFixture()
    {
        Authority = new TestCertificateAuthority();
        Folder = new TenantKeyFolder(Authority, ["www.acme.test", "*.acme.test"], withEd25519: true);
        (P384, P384Public) = TestKeys.Ecdsa(System.Security.Cryptography.ECCurve.NamedCurves.nistP384);
        File.WriteAllText(Path.Combine(Folder.Path, "p384.key"), P384.Pem);
        File.SetUnixFileMode(Path.Combine(Folder.Path, "p384.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Store = new PemKeyStore(Folder.Path, new ListLogger<PemKeyStore>());
        Operations = new KeyOperations(Store);
    }

    public TestCertificateAuthority Authority { get; }
    public TenantKeyFolder Folder { get; }
    public TestKey P384 { get; }
    public System.Security.Cryptography.ECDsa P384Public { get; }
    internal PemKeyStore Store { get; }
    internal KeyOperations Operations { get; }

    public void Dispose()
    {
        Store.Dispose();
        P384Public.Dispose();
        Folder.Dispose();
        Authority.Dispose();
    }
}
