using System.Security.Cryptography;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.Registry;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.KeyServer.Tests.KeyStore;

public sealed class PemKeyStoreTests : IDisposable
{
    private readonly TempDirectory _folder = new("keyless-pem");
    private readonly TestCertificateAuthority _ca = new();
    private readonly ListLogger<PemKeyStore> _log = new();

    private string AddKeyWithChain(string file, TestKey key, params string[] hostNames)
    {
        using var leaf = _ca.Issue(key, hostNames);
        _folder.Write(file, key.Pem + "\n" + _ca.ChainPem(leaf));
        return KeyIds.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo);
    }

    [Fact]
    public void Every_supported_key_format_and_type_loads_and_gets_its_chain()
    {
        var ids = new[]
        {
            AddKeyWithChain("rsa-pkcs1.pem", TestKeys.Rsa(2048, TestKeys.Format.Pkcs1).Key, "a.test"),
            AddKeyWithChain("rsa-pkcs8.pem", TestKeys.Rsa(3072, TestKeys.Format.Pkcs8).Key, "b.test"),
            AddKeyWithChain("p256-sec1.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256, TestKeys.Format.Sec1).Key, "c.test"),
            AddKeyWithChain("p384-pkcs8.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP384, TestKeys.Format.Pkcs8).Key, "d.test"),
            AddKeyWithChain("ed25519.pem", TestKeys.Ed25519().Key, "e.test"),
        };

        using var store = new PemKeyStore(_folder.Path, _log);

        Assert.Equal(ids.Order(), store.Keys.Select(k => k.KeyId).Order());
        Assert.Equal(
            [KeyAlgorithm.Rsa, KeyAlgorithm.Rsa, KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Ed25519],
            ids.Select(id => { store.TryGetKey(id, out var k); return k!.Algorithm; }));
        Assert.Equal(ids.Order(), store.Chains.Select(c => c.KeyId).Order());
        Assert.All(store.Chains, chain => Assert.Equal(2, chain.Certificates.Count));
        Assert.DoesNotContain(_log.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public void A_4096_bit_rsa_key_loads()
    {
        var id = AddKeyWithChain("rsa4096.pem", TestKeys.Rsa(4096).Key, "big.test");
        using var store = new PemKeyStore(_folder.Path, _log);
        Assert.True(store.TryGetKey(id, out var key));
        Assert.Equal(4096, key.KeySizeBits);
    }

    [Fact]
    public void Key_and_chain_in_separate_files_are_matched_by_public_key()
    {
        var (key, _) = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256);
        using var leaf = _ca.Issue(key, "split.test");
        _folder.Write("zz-site.key", key.Pem);
        _folder.Write("aa-site.crt", _ca.ChainPem(leaf));

        using var store = new PemKeyStore(_folder.Path, _log);

        var chain = Assert.Single(store.Chains);
        Assert.Equal(KeyIds.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo), chain.KeyId);
        Assert.Equal(leaf.Thumbprint, chain.EndEntity.Thumbprint);
    }

    public static TheoryData<string, string, string> BadFiles()
    {
        using var rsa1024 = RSA.Create(1024);
        using var p521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        using var encrypted = RSA.Create(2048);
        var good = TestKeys.Rsa(2048).Key.Pem;
        return new TheoryData<string, string, string>
        {
            { "garbage.pem", "this is not PEM at all", "no PEM private key or certificate" },
            { "rsa1024.key", PemEncoding.WriteString("RSA PRIVATE KEY", rsa1024.ExportRSAPrivateKey()), "1024 bits" },
            { "p521.key", PemEncoding.WriteString("EC PRIVATE KEY", p521.ExportECPrivateKey()), "not supported" },
            { "encrypted.key", PemEncoding.WriteString("ENCRYPTED PRIVATE KEY", encrypted.ExportEncryptedPkcs8PrivateKey("pw", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 1000))), "encrypted private keys are not supported" },
            { "truncated.key", good[..(good.Length / 2)] + "\n-----END PRIVATE KEY-----\n", "malformed" },
            { "dsa.key", "-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n", "not a supported private key type" },
        };
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_bad_file_is_logged_with_its_name_and_reason_and_the_good_ones_still_load(string file, string contents, string reason)
    {
        var goodId = AddKeyWithChain("good.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, "good.test");
        _folder.Write(file, contents);

        using var store = new PemKeyStore(_folder.Path, _log);

        Assert.True(store.TryGetKey(goodId, out _));
        Assert.Single(store.Keys);
        var line = Assert.Single(_log.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains(file, line.Message);
        Assert.Contains(reason, line.Message);
    }

    [Fact]
    public void A_certificate_without_its_key_is_reported_and_ignored()
    {
        using var leaf = _ca.Issue(TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, "orphan.test");
        _folder.Write("orphan.crt", _ca.ChainPem(leaf));

        using var store = new PemKeyStore(_folder.Path, _log);

        Assert.Empty(store.Chains);
        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("orphan.crt"));
    }

    [Fact]
    public void A_key_file_readable_by_others_is_flagged()
    {
        AddKeyWithChain("loose.pem", TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key, "loose.test");
        File.SetUnixFileMode(Path.Combine(_folder.Path, "loose.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        using var store = new PemKeyStore(_folder.Path, _log);

        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("loose.pem") && e.Message.Contains("0600"));
    }

    [Fact]
    public void A_missing_folder_is_a_start_up_error_naming_it()
    {
        var missing = Path.Combine(_folder.Path, "nope");
        var error = Assert.Throws<DirectoryNotFoundException>(() => new PemKeyStore(missing, _log));
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void Registration_carries_public_chains_and_san_host_names_only()
    {
        var (key, _) = TestKeys.Rsa(2048);
        var id = AddKeyWithChain("site.pem", key, "www.acme.test", "*.Acme.Test");
        using var store = new PemKeyStore(_folder.Path, _log);

        var registration = ReplicaRegistrar.Describe("acme", "primary", store);

        var chain = Assert.Single(registration.Chains);
        Assert.Equal(id, chain.KeyId);
        Assert.Equal(KeyAlgorithm.Rsa, chain.Algorithm);
        Assert.Equal(["www.acme.test", "*.acme.test"], chain.HostNames);
        Assert.Equal(2, chain.ChainDer.Count);
    }

    public void Dispose()
    {
        _ca.Dispose();
        _folder.Dispose();
    }
}
