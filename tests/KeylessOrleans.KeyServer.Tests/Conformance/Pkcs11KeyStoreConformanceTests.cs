using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.KeyStore.Pkcs11;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.KeyServer.Tests.Conformance;

/// <summary>Tests that load the SoftHSM2 module run one at a time: a PKCS#11 module is initialised once per process.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoftHsmCollection
{
    public const string Name = "SoftHSM2";
}

/// <summary>RSA-2048 and P-256 keys generated inside a fresh SoftHSM2 token; only their certificates are files.</summary>
public sealed class Pkcs11ConformanceStore : IConformanceStore, IDisposable
{
    private readonly TestCertificateAuthority _ca = new();
    private readonly TempDirectory _certificates = new("keyless-hsm-certs");
    private readonly Pkcs11KeySet _keys;
    private readonly PemKeyStore _store;

    public Pkcs11ConformanceStore()
    {
        Token = SoftHsm.Instance.CreateToken($"conformance-{Guid.NewGuid():n}"[..24]);
        RsaSpki = Token.GenerateRsa("site-rsa");
        EcSpki = Token.GenerateEcP256("site-ec");
        foreach (var (name, spki) in new[] { ("rsa.crt", RsaSpki), ("ec.crt", EcSpki) })
        {
            using var certificate = _ca.Issue(spki, "hsm.test");
            _certificates.Write(name, _ca.ChainPem(certificate));
        }
        _keys = new Pkcs11KeySet([Token.Uri("site-rsa"), Token.Uri("site-ec")], 4, new ListLogger<Pkcs11KeySet>());
        _store = new PemKeyStore(_certificates.Path, new ListLogger<PemKeyStore>(), _keys.Keys);
    }

    public HsmToken Token { get; }
    public IKeyStore Store => _store;
    public byte[] RsaSpki { get; }
    public byte[] EcSpki { get; }

    public void Dispose()
    {
        _store.Dispose();
        _keys.Dispose();
        _certificates.Dispose();
        _ca.Dispose();
    }
}

[Collection(SoftHsmCollection.Name)]
public sealed class Pkcs11KeyStoreConformanceTests(Pkcs11ConformanceStore fixture)
    : KeyStoreConformanceTests<Pkcs11ConformanceStore>(fixture), IClassFixture<Pkcs11ConformanceStore>;
