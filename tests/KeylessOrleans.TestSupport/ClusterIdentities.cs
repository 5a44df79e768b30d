using System.Security.Cryptography;
using KeylessOrleans.Cluster.Security;

namespace KeylessOrleans.TestSupport;

/// <summary>An operator's cluster CA in a temporary folder, issuing silo identities as PEM files (what `keyless ca init` / `cert issue` write).</summary>
public sealed class ClusterIdentities : IDisposable
{
    private readonly TempDirectory _files = new("keyless-identities");
    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2 _ca;
    private readonly ECDsa _caKey;

    public ClusterIdentities(string name = "Test cluster CA")
    {
        (_ca, _caKey) = ClusterCertificates.CreateAuthority(name, TimeSpan.FromDays(1));
        CaFile = _files.Write($"ca-{Guid.NewGuid():N}.pem", _ca.ExportCertificatePem());
    }

    /// <summary>The CA certificate (PEM), as key servers and silos are given it.</summary>
    public string CaFile { get; }

    /// <summary>Certificate and key files for <paramref name="identity"/>, e.g. <c>SiloIdentity.Edge("edge-a")</c>.</summary>
    public (string Certificate, string Key) Issue(SiloIdentity identity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=csr", key, HashAlgorithmName.SHA256);
        using var certificate = ClusterCertificates.Issue(_ca, _caKey, identity, request.PublicKey, TimeSpan.FromHours(1));
        var stem = $"{identity.Role}-{identity.Name}-{Guid.NewGuid():N}";
        return (_files.Write($"{stem}.crt", certificate.ExportCertificatePem()), _files.Write($"{stem}.key", key.ExportPkcs8PrivateKeyPem()));
    }

    public void Dispose()
    {
        _ca.Dispose();
        _caKey.Dispose();
        _files.Dispose();
    }
}
