using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KeylessOrleans.Cluster.Security;

/// <summary>
/// The operator's cluster CA: makes it, issues silo certificates (with a new key, or for a tenant's CSR so the
/// tenant's key never leaves the tenant), and checks a peer's certificate against it.
/// </summary>
internal static class ClusterCertificates
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    public static (X509Certificate2 Certificate, ECDsa Key) CreateAuthority(string name, TimeSpan lifetime)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow + lifetime);
        return (X509CertificateLoader.LoadCertificate(certificate.RawData), key);
    }

    /// <summary>A certificate for <paramref name="identity"/> on <paramref name="publicKey"/>, signed by the CA. Good for TLS server and client.</summary>
    public static X509Certificate2 Issue(X509Certificate2 authority, ECDsa authorityKey, SiloIdentity identity, PublicKey publicKey, TimeSpan lifetime)
    {
        var request = new CertificateRequest(new X500DistinguishedName($"CN={identity}"), publicKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(identity.ToUri());
        request.CertificateExtensions.Add(san.Build(critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth, ClientAuth], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        var notAfter = DateTimeOffset.UtcNow + lifetime;
        if (notAfter > authority.NotAfter) notAfter = authority.NotAfter;
        return request.Create(authority.SubjectName, X509SignatureGenerator.CreateForECDsa(authorityKey), DateTimeOffset.UtcNow.AddMinutes(-5), notAfter, serial);
    }

    /// <summary>
    /// The public key of a PEM certificate signing request, after checking its signature. Everything else the
    /// CSR asks for is ignored: the operator decides the identity.
    /// </summary>
    public static PublicKey PublicKeyOfRequest(string csrPem) =>
        CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default).PublicKey;

    /// <summary>Why <paramref name="certificate"/> is not a valid cluster certificate, or null when it is.</summary>
    public static string? Problem(X509Certificate2 certificate, X509Certificate2 authority)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (!chain.Build(certificate))
        {
            var status = string.Join(", ", chain.ChainStatus.Select(s => s.Status));
            return $"certificate '{certificate.Subject}' is not issued by the cluster CA ({status})";
        }
        return SiloIdentity.FromCertificate(certificate) is null ? $"certificate '{certificate.Subject}' names no keyless identity" : null;
    }
}
