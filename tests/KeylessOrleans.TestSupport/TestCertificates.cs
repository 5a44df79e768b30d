using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KeylessOrleans.TestSupport;

/// <summary>A throwaway CA that issues server certificates for test keys of any type.</summary>
public sealed class TestCertificateAuthority : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestCertificateAuthority(string name = "KeylessOrleans Test CA")
    {
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));
    }

    public X509Certificate2 Certificate { get; }

    public X509Certificate2 Issue(TestKey key, params string[] dnsNames) => Issue(key.SubjectPublicKeyInfo, dnsNames);

    /// <summary>A server certificate for any public key (e.g. one whose private half lives in an HSM).</summary>
    public X509Certificate2 Issue(byte[] subjectPublicKeyInfo, params string[] dnsNames) => Issue(subjectPublicKeyInfo, LeafExtras.None, dnsNames);

    /// <summary>A server certificate with the extensions of <paramref name="extras"/> (delegation, OCSP responder).</summary>
    public X509Certificate2 Issue(byte[] subjectPublicKeyInfo, LeafExtras extras, params string[] dnsNames)
    {
        var publicKey = PublicKey.CreateFromSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={dnsNames.FirstOrDefault() ?? "test"}"), publicKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames) san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        if (extras.DelegationUsage)
        {
            // RFC 9345 §4.2: DelegationUsage (an ASN.1 NULL) and the digitalSignature key usage.
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509Extension(DelegationUsageOid, [0x05, 0x00], false));
        }
        if (extras.OcspResponder is { } responder)
            request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension([responder.ToString()], null));
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        return request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90), serial);
    }

    public const string DelegationUsageOid = "1.3.6.1.4.1.44363.44";

    /// <summary>The CA's private key as PKCS#8 PEM, for tools that sign as the CA (an OCSP responder).</summary>
    public string KeyPem => _caKey.ExportPkcs8PrivateKeyPem();

    /// <summary>The CA's private key as PKCS#8 DER, for libraries that sign as the CA.</summary>
    public byte[] KeyPkcs8 => _caKey.ExportPkcs8PrivateKey();

    /// <summary>PEM of the end-entity certificate followed by the CA: a full chain as key servers store it.</summary>
    public string ChainPem(X509Certificate2 leaf) =>
        PemEncoding.WriteString("CERTIFICATE", leaf.RawData) + "\n" + PemEncoding.WriteString("CERTIFICATE", Certificate.RawData) + "\n";

    public void Dispose() => _caKey.Dispose();
}

/// <summary>Extensions a test certificate can carry beyond the defaults.</summary>
/// <param name="DelegationUsage">RFC 9345 DelegationUsage plus the digitalSignature key usage.</param>
/// <param name="OcspResponder">An Authority Information Access entry naming this OCSP responder.</param>
public sealed record LeafExtras(bool DelegationUsage = false, Uri? OcspResponder = null)
{
    public static LeafExtras None { get; } = new();
}
