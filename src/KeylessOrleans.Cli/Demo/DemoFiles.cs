using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using KeylessOrleans.Cli.Hosting;
using KeylessOrleans.Cluster.Security;

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

    /// <summary>The edge's registry storage: kept across demo runs like the keys.</summary>
    public string RegistryDirectory => Path.Combine(Root, "edge", "registry");

    /// <summary>The key server's audit log, kept with its keys on the tenant's side (not in the caller's working directory).</summary>
    public string AuditLogFile => Path.Combine(Root, "keyserver", "audit.log");

    /// <summary>The operator's cluster CA (certifies edges and operators) and the tenant's own CA (certifies its key servers).</summary>
    public string OperatorCaFolder => Path.Combine(Root, "operator-ca");
    public string TenantCaFolder => Path.Combine(Root, "keyserver", "tenant-ca");

    /// <summary>A process's cluster identity: cert.pem and key.pem in the folder.</summary>
    public string EdgeIdentity => Path.Combine(Root, "edge", "tls");
    public string OperatorIdentity => Path.Combine(Root, "operator");
    public string KeyServerIdentity => Path.Combine(Root, "keyserver", "tls");

    /// <summary>What the tenant was given by the operator: the CA whose edges may connect to its gateway.</summary>
    public string KeyServerEdgeCaFile => Path.Combine(Root, "keyserver", "edge-ca.pem");

    /// <summary>
    /// The demo's federated shape with mutual TLS, as production runs it: an operator CA issues the edge's and the
    /// operator's certificates; the tenant's own CA issues its key server's. CA keys stay in their folders (mode 0600).
    /// </summary>
    /// <returns>True when the certificates were created now.</returns>
    public bool EnsureClusterCertificates()
    {
        if (File.Exists(Path.Combine(KeyServerIdentity, "cert.pem")) && File.Exists(Path.Combine(EdgeIdentity, "cert.pem"))
            && File.Exists(Path.Combine(OperatorIdentity, "cert.pem")) && File.Exists(KeyServerEdgeCaFile)) return false;

        var lifetime = TimeSpan.FromDays(3650);
        var (operatorCa, operatorCaKey) = ClusterCertificates.CreateAuthority("KeylessOrleans Demo Operator CA", lifetime);
        var (tenantCa, tenantCaKey) = ClusterCertificates.CreateAuthority("KeylessOrleans Demo Tenant CA", lifetime);
        using (operatorCa)
        using (operatorCaKey)
        using (tenantCa)
        using (tenantCaKey)
        {
            WriteAuthority(OperatorCaFolder, operatorCa, operatorCaKey);
            WriteAuthority(TenantCaFolder, tenantCa, tenantCaKey);
            WriteIdentity(EdgeIdentity, operatorCa, operatorCaKey, SiloIdentity.Edge("demo-edge"), lifetime);
            WriteIdentity(OperatorIdentity, operatorCa, operatorCaKey, SiloIdentity.Operator("demo-operator"), lifetime);
            WriteIdentity(KeyServerIdentity, tenantCa, tenantCaKey, SiloIdentity.OnPrem(Tenant, "primary"), lifetime);
            File.WriteAllText(KeyServerEdgeCaFile, operatorCa.ExportCertificatePem() + "\n");
        }
        return true;
    }

    private static void WriteAuthority(string folder, X509Certificate2 authority, ECDsa key)
    {
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        PrivateFile.Write(Path.Combine(folder, "ca-key.pem"), key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(folder, "ca.pem"), authority.ExportCertificatePem() + "\n");
    }

    private static void WriteIdentity(string folder, X509Certificate2 authority, ECDsa authorityKey, SiloIdentity identity, TimeSpan lifetime)
    {
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = ClusterCertificates.Issue(authority, authorityKey, identity, new PublicKey(key), lifetime);
        PrivateFile.Write(Path.Combine(folder, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(folder, "cert.pem"), certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(folder, "ca.pem"), authority.ExportCertificatePem() + "\n");
    }


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

    /// <summary>The operator's record of the demo tenant: its names, origin, key server's gateway and the tenant's CA.</summary>
    public void WriteTenants(int originPort, int keyServerGatewayPort)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(TenantsFile)!);
        var tenants = new
        {
            tenants = new[]
            {
                new
                {
                    tenant = Tenant,
                    hostNames = new[] { HostName, "*." + HostName },
                    origin = new { host = "127.0.0.1", port = originPort },
                    keyServers = new[] { new { replica = "primary", gateway = $"127.0.0.1:{keyServerGatewayPort}" } },
                    keyServerCa = File.ReadAllText(Path.Combine(TenantCaFolder, "ca.pem")),
                },
            },
        };
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
