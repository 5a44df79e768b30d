using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cli.Hosting;
using KeylessOrleans.Cluster.Security;

namespace KeylessOrleans.Cli.Commands;

/// <summary>
/// The clusters' PKI. The operator makes its CA (`ca init`) and issues edge and operator certificates (`cert issue`).
/// A tenant whose key servers form its own cluster makes its own CA the same way and issues its key servers'
/// certificates (`cert issue --role onprem`); edges check them against that CA (the tenant gives the operator ca.pem,
/// never the key). In a shared cluster the operator issues them instead, for the tenant's signing request
/// (`cert request`), so a silo key never leaves the machine that made it.
/// </summary>
internal static class CertificateCommands
{
    private static readonly TimeSpan CaLifetime = TimeSpan.FromDays(3650);

    public static Command Ca()
    {
        var dir = new Option<string>("--dir") { Description = "Folder for ca.pem and ca-key.pem (the CA key stays here, mode 0600)", Required = true };
        var name = new Option<string>("--name") { Description = "CA name (e.g. \"Acme key server CA\" for a tenant's own CA)", DefaultValueFactory = _ => "KeylessOrleans Cluster CA" };
        var init = new Command("init", "Create a CA: the operator's cluster CA, or a tenant's CA for the key servers of its own cluster.") { dir, name };
        init.SetAction(result =>
        {
            var folder = result.GetValue(dir)!;
            if (File.Exists(Path.Combine(folder, "ca-key.pem")))
            {
                Console.Error.WriteLine($"{folder} already holds a CA; refusing to overwrite it");
                return 1;
            }
            Directory.CreateDirectory(folder);
            var (certificate, key) = ClusterCertificates.CreateAuthority(result.GetValue(name)!, CaLifetime);
            using (key)
            {
                PrivateFile.Write(Path.Combine(folder, "ca-key.pem"), key.ExportPkcs8PrivateKeyPem());
                File.WriteAllText(Path.Combine(folder, "ca.pem"), certificate.ExportCertificatePem() + "\n");
            }
            Console.WriteLine($"CA created: {Path.Combine(folder, "ca.pem")} (give this to every silo, and a tenant's to the operator for its edges); key {Path.Combine(folder, "ca-key.pem")} (keep it offline)");
            return 0;
        });
        return new Command("ca", "A certificate authority for cluster certificates (the operator's, or a tenant's own).") { init };
    }

    public static Command Cert()
    {
        var caDir = new Option<string>("--ca-dir") { Description = "Folder of the CA (ca init --dir): the operator's, or for --role onprem in a tenant's own cluster, the tenant's", Required = true };
        var role = new Option<string>("--role") { Description = "edge, onprem or operator", Required = true };
        var name = new Option<string?>("--name") { Description = "Edge or operator name (default: the role)" };
        var tenant = new Option<string?>("--tenant") { Description = "Tenant of an on-prem silo" };
        var replica = new Option<string>("--replica") { Description = "Replica of an on-prem silo", DefaultValueFactory = _ => "primary" };
        var csr = new Option<string?>("--csr") { Description = "A signing request (PEM) from `cert request`: the key stays with its maker" };
        var output = new Option<string>("--out") { Description = "Folder for cert.pem (and key.pem when no --csr), plus ca.pem", Required = true };
        var days = new Option<int>("--days") { Description = "Validity in days", DefaultValueFactory = _ => 365 };
        var issue = new Command("issue", "Issue a cluster certificate (the operator; or a tenant, for its own key servers).") { caDir, role, name, tenant, replica, csr, output, days };
        issue.SetAction(result =>
        {
            var identity = result.GetValue(role) switch
            {
                SiloIdentity.EdgeRole => SiloIdentity.Edge(result.GetValue(name) ?? "edge"),
                SiloIdentity.OperatorRole => SiloIdentity.Operator(result.GetValue(name) ?? "operator"),
                SiloIdentity.OnPremRole when result.GetValue(tenant) is { Length: > 0 } t => SiloIdentity.OnPrem(t, result.GetValue(replica)!),
                SiloIdentity.OnPremRole => null,
                _ => null,
            };
            if (identity is null)
            {
                Console.Error.WriteLine("--role must be edge, onprem (with --tenant) or operator");
                return 2;
            }
            var folder = result.GetValue(caDir)!;
            using var authority = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(folder, "ca.pem"));
            using var authorityKey = ECDsa.Create();
            authorityKey.ImportFromPem(File.ReadAllText(Path.Combine(folder, "ca-key.pem")));

            var outFolder = result.GetValue(output)!;
            Directory.CreateDirectory(outFolder);
            PublicKey publicKey;
            ECDsa? newKey = null;
            if (result.GetValue(csr) is { } csrFile)
            {
                try
                {
                    publicKey = ClusterCertificates.PublicKeyOfRequest(File.ReadAllText(csrFile));
                }
                catch (CryptographicException e)
                {
                    Console.Error.WriteLine($"--csr {csrFile} is not a valid signing request: {e.Message}");
                    return 2;
                }
            }
            else
            {
                newKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                publicKey = new PublicKey(newKey);
                PrivateFile.Write(Path.Combine(outFolder, "key.pem"), newKey.ExportPkcs8PrivateKeyPem());
            }
            using (newKey)
            using (var certificate = ClusterCertificates.Issue(authority, authorityKey, identity, publicKey, TimeSpan.FromDays(result.GetValue(days))))
            {
                File.WriteAllText(Path.Combine(outFolder, "cert.pem"), certificate.ExportCertificatePem() + "\n");
                File.WriteAllText(Path.Combine(outFolder, "ca.pem"), authority.ExportCertificatePem() + "\n");
            }
            Console.WriteLine($"issued {identity}: {Path.Combine(outFolder, "cert.pem")}");
            return 0;
        });

        var requestTenant = new Option<string>("--tenant") { Description = "Your tenant name", Required = true };
        var requestReplica = new Option<string>("--replica") { Description = "This key server's replica name", DefaultValueFactory = _ => "primary" };
        var requestOut = new Option<string>("--out") { Description = "Folder for key.pem (stays here) and csr.pem (send to the operator)", Required = true };
        var request = new Command("request", "Make this key server's cluster key and a signing request for whoever holds the CA (tenant).") { requestTenant, requestReplica, requestOut };
        request.SetAction(result =>
        {
            var outFolder = result.GetValue(requestOut)!;
            Directory.CreateDirectory(outFolder);
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var identity = SiloIdentity.OnPrem(result.GetValue(requestTenant)!, result.GetValue(requestReplica)!);
            var csr = new CertificateRequest(new X500DistinguishedName($"CN={identity}"), key, HashAlgorithmName.SHA256);
            PrivateFile.Write(Path.Combine(outFolder, "key.pem"), key.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(Path.Combine(outFolder, "csr.pem"), csr.CreateSigningRequestPem() + "\n");
            Console.WriteLine($"key {Path.Combine(outFolder, "key.pem")} (stays here); send {Path.Combine(outFolder, "csr.pem")} to the operator");
            return 0;
        });
        return new Command("cert", "Cluster certificates for silos and the operator.") { issue, request };
    }
}
