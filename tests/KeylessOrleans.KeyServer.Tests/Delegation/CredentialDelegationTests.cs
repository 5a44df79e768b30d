using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.KeyServer.Delegation;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using System.Diagnostics.Metrics;
using KeylessOrleans.KeyServer.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Tests.Delegation;

/// <summary>
/// Issuing RFC 9345 delegated credentials: only for certificates with DelegationUsage, within the tenant's policy,
/// verifiable under the certificate's key, and never interchangeable with a CertificateVerify or ServerKeyExchange
/// signature.
/// </summary>
public sealed class CredentialDelegationTests : IDisposable
{
    private const string Host = "dc.acme.test";
    private readonly TestCertificateAuthority _ca = new();
    private readonly TenantKeyFolder _folder;
    private readonly PemKeyStore _store;
    private readonly KeyServerSettings _tenantConfig;
    private readonly KeyAccessPolicy _policies;
    private readonly CredentialDelegation _delegation;
    private Action<KeyServerOptions> _tenantEdits = _ => { };
    private readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly TestKey _ecKey = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key;
    private readonly TestKey _rsaKey = TestKeys.Rsa(2048).Key;
    private readonly byte[] _ecCertificate;
    private readonly byte[] _rsaCertificate;

    public CredentialDelegationTests()
    {
        _folder = new TenantKeyFolder(_ca, [Host]); // its own RSA and P-256 certificates have no DelegationUsage
        var delegable = new LeafExtras(DelegationUsage: true);
        _ecCertificate = _folder.Add("dc-ec.pem", _ecKey, _ca, delegable, Host);
        _rsaCertificate = _folder.Add("dc-rsa.pem", _rsaKey, _ca, delegable, Host);
        _store = new PemKeyStore(_folder.Path, new ListLogger<PemKeyStore>());
        // The tenant's configuration as the key server reads it, at start and again on every change.
        _tenantConfig = new KeyServerSettings(o =>
        {
            o.Tenant = "acme";
            o.KeyDirectory = _folder.Path;
            _tenantEdits(o);
        });
        (_policies, _delegation) = NewDelegation(_tenantConfig.Read());
    }

    private (KeyAccessPolicy, CredentialDelegation) NewDelegation(KeyServerOptions started)
    {
        var policies = new KeyAccessPolicy(Options.Create(started), _tenantConfig, [], TimeProvider.System, new KeyServerMetrics(_meters.GetRequiredService<IMeterFactory>()),
            new ListLogger<KeyAccessPolicy>());
        return (policies, new CredentialDelegation(_store, Options.Create(started), policies, TimeProvider.System));
    }

    /// <summary>The tenant edits its configuration file while the key server runs.</summary>
    private void TenantChanges(Action<KeyServerOptions> edit)
    {
        _tenantEdits += edit;
        _policies.Reload();
    }

    private static string IdOf(TestKey key) => KeyIds.FromSubjectPublicKeyInfo(key.SubjectPublicKeyInfo);

    /// <param name="delegatedKey">The edge's key (it proves holding it); default a fresh P-256 key.</param>
    /// <param name="publicKey">Another public key to name instead, with the proof still made by <paramref name="delegatedKey"/>.</param>
    /// <param name="change">Alters the request after the edge made it (as an attacker or a broken edge would).</param>
    private KeyOperationResult Issue(
        TestKey key, byte[] certificate, SignatureScheme scheme = SignatureScheme.EcdsaSecp256r1Sha256,
        SignatureScheme delegatedScheme = SignatureScheme.EcdsaSecp256r1Sha256, byte[]? publicKey = null, TimeSpan? validity = null,
        CredentialDelegation? through = null, TestKey? delegatedKey = null, Func<DelegateCredentialRequest, DelegateCredentialRequest>? change = null)
    {
        delegatedKey ??= TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key;
        var request = new DelegateCredentialRequest(
            new KeyRequestContext("acme", IdOf(key), Host, null, "edge-1"), SHA256.HashData(certificate), scheme, delegatedScheme,
            publicKey ?? delegatedKey.SubjectPublicKeyInfo, (uint)(validity ?? TimeSpan.FromHours(8)).TotalSeconds,
            PossessionTime: DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        request = request with { PossessionSignature = SignPossession(delegatedKey, request) };
        return (through ?? _delegation).Issue(IdOf(key), change is null ? request : change(request));
    }

    /// <summary>What the edge's delegated key signs to prove it holds it.</summary>
    private static byte[] SignPossession(TestKey key, DelegateCredentialRequest request)
    {
        var content = DelegatedCredential.PossessionContent(
            request.CertificateSha256, request.DelegatedScheme, request.DelegatedPublicKey, request.ValiditySeconds, request.PossessionTime);
        if (key.Kind == "ed25519")
        {
            var signer = new Org.BouncyCastle.Crypto.Signers.Ed25519Signer();
            signer.Init(true, Org.BouncyCastle.Security.PrivateKeyFactory.CreateKey(key.Pkcs8));
            signer.BlockUpdate(content, 0, content.Length);
            return signer.GenerateSignature();
        }
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportPkcs8PrivateKey(key.Pkcs8, out _);
        return ecdsa.SignData(content, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    [Theory]
    [InlineData(SignatureScheme.EcdsaSecp256r1Sha256)]
    [InlineData(SignatureScheme.Ed25519)]
    public void An_issued_credential_verifies_under_the_certificate_key_and_holds_the_edge_key(SignatureScheme delegatedScheme)
    {
        var edgeKey = delegatedScheme == SignatureScheme.Ed25519 ? TestKeys.Ed25519().Key : TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key;

        var result = Issue(_ecKey, _ecCertificate, delegatedScheme: delegatedScheme, delegatedKey: edgeKey, validity: TimeSpan.FromHours(8));

        Assert.True(result.IsOk, result.Detail);
        var parts = DelegatedCredential.Parse(result.Output!)!;
        Assert.Equal(edgeKey.SubjectPublicKeyInfo, parts.SubjectPublicKeyInfo);
        Assert.Equal(delegatedScheme, parts.VerifyScheme);
        Assert.Equal(SignatureScheme.EcdsaSecp256r1Sha256, parts.Algorithm);
        var content = DelegatedCredential.SignedContent(_ecCertificate, parts.Credential, parts.Algorithm);
        Assert.True(IndependentVerifier.Verify(parts.Algorithm, _ecKey.SubjectPublicKeyInfo, content, parts.Signature));
        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(_ecCertificate);
        var expiry = certificate.NotBefore.ToUniversalTime() + TimeSpan.FromSeconds(parts.ValidTime);
        Assert.InRange(expiry - DateTime.UtcNow, TimeSpan.FromHours(8) - TimeSpan.FromSeconds(5), TimeSpan.FromHours(8));
    }

    [Fact]
    public void A_request_that_does_not_prove_holding_the_delegated_key_gets_no_credential()
    {
        var someoneElses = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256).Key;
        var outcomes = new Dictionary<string, KeyOperationResult>
        {
            ["no proof"] = Issue(_ecKey, _ecCertificate, change: r => r with { PossessionSignature = null }),
            // The key of another edge (or of a victim) named, with a proof made by the asker's own key.
            ["another key named"] = Issue(_ecKey, _ecCertificate, publicKey: someoneElses.SubjectPublicKeyInfo),
            ["proof for another validity"] = Issue(_ecKey, _ecCertificate, change: r => r with { ValiditySeconds = r.ValiditySeconds + 1 }),
            ["proof made at another time"] = Issue(_ecKey, _ecCertificate, change: r => r with { PossessionTime = r.PossessionTime + 1 }),
            ["stale proof"] = Issue(_ecKey, _ecCertificate, change: r => r with { PossessionTime = r.PossessionTime - 600_000 }),
            ["corrupted proof"] = Issue(_ecKey, _ecCertificate, change: r => r with { PossessionSignature = [.. r.PossessionSignature![..^1], (byte)(r.PossessionSignature[^1] ^ 1)] }),
            ["ed25519 proof by another key"] = Issue(_ecKey, _ecCertificate, delegatedScheme: SignatureScheme.Ed25519,
                publicKey: TestKeys.Ed25519().Key.SubjectPublicKeyInfo, delegatedKey: TestKeys.Ed25519().Key),
        };

        foreach (var (what, result) in outcomes)
        {
            Assert.True(result.Status == KeyOperationStatus.InvalidRequest, $"{what}: {result.Status} {result.Detail}");
            Assert.Null(result.Output);
            Assert.Contains("possession", result.Detail);
        }
    }

    [Fact]
    public void A_request_over_the_tenants_maximum_validity_is_refused()
    {
        TenantChanges(o => o.DelegatedCredentials.MaxValidity = TimeSpan.FromHours(12));
        var result = Issue(_ecKey, _ecCertificate, validity: TimeSpan.FromHours(13));
        Assert.Equal(KeyOperationStatus.InvalidRequest, result.Status);
        Assert.Contains("maximum", result.Detail);
        Assert.True(Issue(_ecKey, _ecCertificate, validity: TimeSpan.FromHours(12)).IsOk);
    }

    [Fact]
    public void A_certificate_without_delegation_usage_cannot_delegate()
    {
        var folderCertificate = _store.ChainsOf(_folder.EcdsaKeyId).Single().EndEntity.RawData;

        var result = Issue(_folder.Ecdsa, folderCertificate);

        Assert.Equal(KeyOperationStatus.InvalidRequest, result.Status);
        Assert.Contains("DelegationUsage", result.Detail);
    }

    [Fact]
    public void An_rsa_pss_rsae_delegated_key_is_refused()
    {
        var rsaPublic = TestKeys.Rsa(2048).Key.SubjectPublicKeyInfo;
        // Even a policy that lists it (the key server's start-up validation refuses such a policy; this is the layer behind).
        var started = _tenantConfig.Read();
        started.DelegatedCredentials.AllowedSchemes.Add(SignatureScheme.RsaPssRsaeSha256);
        var (_, delegation) = NewDelegation(started);

        var result = Issue(_ecKey, _ecCertificate, delegatedScheme: SignatureScheme.RsaPssRsaeSha256, publicKey: rsaPublic, through: delegation);

        Assert.Equal(KeyOperationStatus.InvalidRequest, result.Status);
        Assert.Null(result.Output);
    }

    [Theory]
    [InlineData("p384 key for a P-256 scheme")]
    [InlineData("not a key")]
    public void A_delegated_key_that_is_not_of_the_schemes_type_is_refused(string what)
    {
        var key = what == "not a key" ? RandomNumberGenerator.GetBytes(91) : TestKeys.Ecdsa(ECCurve.NamedCurves.nistP384).Key.SubjectPublicKeyInfo;
        Assert.Equal(KeyOperationStatus.InvalidRequest, Issue(_ecKey, _ecCertificate, publicKey: key).Status);
    }

    [Fact]
    public void Revocation_by_the_tenant_stops_issuance_at_once_and_lifting_it_resumes()
    {
        Assert.True(Issue(_ecKey, _ecCertificate).IsOk);
        var marker = Path.Combine(_folder.Path, _policies.Delegation.RevocationFile);
        File.WriteAllText(marker, "");

        var refused = Issue(_ecKey, _ecCertificate);

        Assert.Equal(KeyOperationStatus.Unauthorized, refused.Status);
        Assert.Contains("revoked", refused.Detail);
        File.Delete(marker);
        Assert.True(Issue(_ecKey, _ecCertificate).IsOk);
    }

    [Fact]
    public void An_rsa_key_delegates_only_when_it_does_not_also_decrypt_premasters()
    {
        var refused = Issue(_rsaKey, _rsaCertificate, scheme: SignatureScheme.RsaPssRsaeSha256);
        Assert.Equal(KeyOperationStatus.InvalidRequest, refused.Status);
        Assert.Contains("7.6", refused.Detail);

        TenantChanges(o => o.Access.AllowRsaDecryption = false);
        var issued = Issue(_rsaKey, _rsaCertificate, scheme: SignatureScheme.RsaPssRsaeSha256);

        Assert.True(issued.IsOk, issued.Detail);
        var parts = DelegatedCredential.Parse(issued.Output!)!;
        Assert.True(IndependentVerifier.Verify(SignatureScheme.RsaPssRsaeSha256, _rsaKey.SubjectPublicKeyInfo,
            DelegatedCredential.SignedContent(_rsaCertificate, parts.Credential, parts.Algorithm), parts.Signature));
    }

    [Fact]
    public void A_tenant_switching_issuance_off_in_its_configuration_gets_no_new_credential_until_it_switches_it_on()
    {
        Assert.True(Issue(_ecKey, _ecCertificate).IsOk);

        TenantChanges(o => o.DelegatedCredentials.Enabled = false);
        var refused = Issue(_ecKey, _ecCertificate);
        Assert.Equal(KeyOperationStatus.Unauthorized, refused.Status);
        Assert.Contains("does not issue", refused.Detail);

        TenantChanges(o => o.DelegatedCredentials.Enabled = true);
        Assert.True(Issue(_ecKey, _ecCertificate).IsOk);
    }

    [Fact]
    public void A_tenant_naming_only_ed25519_in_its_configuration_gets_no_ecdsa_delegated_key_certified()
    {
        var tenantFile = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Keyless:KeyServer:DelegatedCredentials:AllowedSchemes:0"] = "Ed25519",
        }).Build();
        TenantChanges(o => tenantFile.GetSection("Keyless:KeyServer").Bind(o));

        var refused = Issue(_ecKey, _ecCertificate, delegatedScheme: SignatureScheme.EcdsaSecp256r1Sha256);
        var issued = Issue(_ecKey, _ecCertificate, delegatedScheme: SignatureScheme.Ed25519, delegatedKey: TestKeys.Ed25519().Key);

        Assert.Equal(KeyOperationStatus.InvalidRequest, refused.Status);
        Assert.Contains("not among the tenant's delegated-credential schemes (Ed25519)", refused.Detail);
        Assert.True(issued.IsOk, issued.Detail);
    }

    [Fact]
    public void A_change_with_any_invalid_setting_is_refused_whole_and_the_running_policy_stays()
    {
        TenantChanges(o =>
        {
            o.DelegatedCredentials.Enabled = false;
            o.DelegatedCredentials.MaxValidity = TimeSpan.FromDays(8); // beyond RFC 9345's 7 days
        });

        Assert.True(_policies.Delegation.Enabled);
        Assert.True(Issue(_ecKey, _ecCertificate).IsOk);
    }

    [Fact]
    public void Switching_rsa_decryption_on_while_running_stops_delegation_from_an_rsa_key_at_once()
    {
        _tenantEdits += o => o.Access.AllowRsaDecryption = false; // as the key server started
        var (policies, delegation) = NewDelegation(_tenantConfig.Read());
        Assert.True(Issue(_rsaKey, _rsaCertificate, scheme: SignatureScheme.RsaPssRsaeSha256, through: delegation).IsOk);

        _tenantEdits += o => o.Access.AllowRsaDecryption = true;
        policies.Reload();

        var refused = Issue(_rsaKey, _rsaCertificate, scheme: SignatureScheme.RsaPssRsaeSha256, through: delegation);
        Assert.Equal(KeyOperationStatus.InvalidRequest, refused.Status);
        Assert.Contains("7.6", refused.Detail);
    }

    [Fact]
    public void Credential_and_handshake_signatures_can_never_stand_in_for_each_other()
    {
        var operations = new KeyOperations(_store);
        var parts = DelegatedCredential.Parse(Issue(_ecKey, _ecCertificate).Output!)!;
        var credentialContent = DelegatedCredential.SignedContent(_ecCertificate, parts.Credential, parts.Algorithm);

        // No CertificateVerify or ServerKeyExchange request can get the credential's content signed...
        Assert.Equal(KeyOperationStatus.InvalidRequest, operations.SignCertificateVerify(IdOf(_ecKey), SignatureScheme.EcdsaSecp256r1Sha256, credentialContent).Status);
        Assert.Equal(KeyOperationStatus.InvalidRequest, operations.SignServerKeyExchange(IdOf(_ecKey), SignatureScheme.EcdsaSecp256r1Sha256, credentialContent).Status);
        Assert.NotNull(CertificateVerifyContent.Validate(credentialContent));
        Assert.NotNull(ServerKeyExchangeParams.Validate(credentialContent));

        // ...and a CertificateVerify signature does not pass as a credential's, nor the credential's as a CertificateVerify.
        var verifyContent = CertificateVerifyContent.Build(SHA256.HashData(credentialContent));
        var verifySignature = operations.SignCertificateVerify(IdOf(_ecKey), SignatureScheme.EcdsaSecp256r1Sha256, verifyContent).Output!;
        Assert.False(IndependentVerifier.Verify(SignatureScheme.EcdsaSecp256r1Sha256, _ecKey.SubjectPublicKeyInfo, credentialContent, verifySignature));
        Assert.False(IndependentVerifier.Verify(SignatureScheme.EcdsaSecp256r1Sha256, _ecKey.SubjectPublicKeyInfo, verifyContent, parts.Signature));
    }

    public void Dispose()
    {
        _meters.Dispose();
        _store.Dispose();
        _folder.Dispose();
        _ca.Dispose();
    }
}
