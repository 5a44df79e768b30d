using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace KeylessOrleans.Cli.Demo;

/// <summary>
/// The demo's data folder. On first use: a demo CA, an RSA-2048 and an ECDSA P-256 key with certificates for
/// demo.localhost, kept in the key server's own sub-folder (which the edge process never opens). The CA's
/// private key is used once and not kept. Later runs reuse what is there. The ECDSA certificate carries
/// DelegationUsage, so TLS 1.3 clients with delegated credentials (Firefox, NSS) are served without a key call;
/// the RSA one does not (RFC 9345 §7.6: a key that also decrypts RSA key exchanges should not delegate).
/// </summary>
internal sealed class DemoFiles(string dataDirectory)
{
    public const string Tenant = "demo";
    public const string HostName = "demo.localhost";

    public string Root { get; } = Path.GetFullPath(dataDirectory);
    public string CaFile => Path.Combine(Root, "ca.pem");
    public string KeyDirectory => Path.Combine(Root, "keyserver", "keys");
    public string TenantsFile => Path.Combine(Root, "edge", "tenants.json");

    /// <summary>The key server's audit log, kept with its keys on the tenant's side (not in the caller's working directory).</summary>
    public string AuditLogFile => Path.Combine(Root, "keyserver", "audit.log");

    /// <returns>True when the keys were created now, false when an earlier run's were reused.</returns>
    public bool EnsureKeys()
    {
        if (File.Exists(CaFile) && Directory.Exists(KeyDirectory) && Directory.EnumerateFiles(KeyDirectory, "*.pem").Any()) return false;

        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(KeyDirectory);
        File.SetUnixFileMode(Path.Combine(Root, "keyserver"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(KeyDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=KeylessOrleans Demo CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));

        using var rsa = RSA.Create(2048);
        WriteKeyAndChain("rsa.pem", rsa.ExportPkcs8PrivateKey(), Issue(ca, caKey, new CertificateRequest($"CN={HostName}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1), rsaKeyExchange: true), ca);
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        WriteKeyAndChain("ecdsa.pem", ecdsa.ExportPkcs8PrivateKey(), Issue(ca, caKey, new CertificateRequest($"CN={HostName}", ecdsa, HashAlgorithmName.SHA256), rsaKeyExchange: false), ca);

        File.WriteAllText(CaFile, PemEncoding.WriteString("CERTIFICATE", ca.RawData) + "\n");
        return true;
    }

    public void WriteTenants(int originPort)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(TenantsFile)!);
        var tenants = new { tenants = new[] { new { tenant = Tenant, hostNames = new[] { HostName, "*." + HostName }, origin = new { host = "127.0.0.1", port = originPort } } } };
        File.WriteAllText(TenantsFile, JsonSerializer.Serialize(tenants, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, ECDsa caKey, CertificateRequest request, bool rsaKeyExchange)
    {
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(HostName);
        san.AddDnsName("*." + HostName);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        var usage = X509KeyUsageFlags.DigitalSignature | (rsaKeyExchange ? X509KeyUsageFlags.KeyEncipherment : 0);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        if (!rsaKeyExchange) request.CertificateExtensions.Add(new X509Extension(KeylessOrleans.Keys.DelegatedCredential.DelegationUsageOid, [0x05, 0x00], false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        return request.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(365), serial);
    }

    private void WriteKeyAndChain(string file, byte[] pkcs8, X509Certificate2 leaf, X509Certificate2 ca)
    {
        var path = Path.Combine(KeyDirectory, file);
        using (var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(PemEncoding.WriteString("PRIVATE KEY", pkcs8));
            writer.Write('\n');
            writer.Write(PemEncoding.WriteString("CERTIFICATE", leaf.RawData));
            writer.Write('\n');
            writer.Write(PemEncoding.WriteString("CERTIFICATE", ca.RawData));
            writer.Write('\n');
        }
        CryptographicOperations.ZeroMemory(pkcs8);
        leaf.Dispose();
    }
}
