using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.KeyServer.Tests.Conformance;

public sealed class PemConformanceStore : IConformanceStore, IDisposable
{
    private readonly TestCertificateAuthority _ca = new();
    private readonly TenantKeyFolder _folder;
    private readonly PemKeyStore _store;

    public PemConformanceStore()
    {
        _folder = new TenantKeyFolder(_ca, ["pem.test"]);
        _store = new PemKeyStore(_folder.Path, new ListLogger<PemKeyStore>());
    }

    public IKeyStore Store => _store;
    public byte[] RsaSpki => _folder.Rsa.SubjectPublicKeyInfo;
    public byte[] EcSpki => _folder.Ecdsa.SubjectPublicKeyInfo;

    public void Dispose()
    {
        _store.Dispose();
        _folder.Dispose();
        _ca.Dispose();
    }
}

public sealed class PemKeyStoreConformanceTests(PemConformanceStore fixture)
    : KeyStoreConformanceTests<PemConformanceStore>(fixture), IClassFixture<PemConformanceStore>;
