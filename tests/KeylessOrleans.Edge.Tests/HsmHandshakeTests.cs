using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>An edge and the on-prem silo of a tenant that keeps its RSA and EC keys in a SoftHSM2 token.</summary>
public sealed class HsmEdgeFixture : IAsyncLifetime
{
    public const string Host = "bank.example.test";
    private readonly TestCertificateAuthority _ca = new();
    private readonly TestOrigin _origin = new();
    private readonly TempDirectory _certificates = new("keyless-hsm-edge");
    private readonly SiloPlan.Edge _edge = new(HttpsPort: 0);
    private KeylessTestCluster _cluster = null!;
    public string EndPoint { get; private set; } = null!;
    public string CaFile { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var token = SoftHsm.Instance.CreateToken($"edge-bank-{Guid.NewGuid():n}"[..20]);
        foreach (var (label, spki) in new[] { ("bank-rsa", token.GenerateRsa("bank-rsa")), ("bank-ec", token.GenerateEcP256("bank-ec")) })
        {
            using var certificate = _ca.Issue(spki, Host);
            _certificates.Write($"{label}.crt", _ca.ChainPem(certificate));
        }
        CaFile = _certificates.Write("ca.pem", System.Security.Cryptography.PemEncoding.WriteString("CERTIFICATE", _ca.Certificate.RawData));
        var bank = new SiloPlan.OnPrem("bank", "primary", _certificates.Path) { Pkcs11Keys = [token.Uri("bank-rsa"), token.Uri("bank-ec")] };
        _cluster = await KeylessTestCluster.StartAsync(_edge, bank);
        EndPoint = (await _cluster.ServeTenantAsync(new TenantSettings("bank", [Host], new OriginEndpoint("127.0.0.1", _origin.Port)), Host, keys: 2)).ToString();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _origin.DisposeAsync();
        _certificates.Dispose();
        _ca.Dispose();
    }
}

/// <summary>Full TLS handshakes through an edge whose tenant keeps its keys in a SoftHSM2 token.</summary>
public sealed class HsmHandshakeTests(HsmEdgeFixture bank) : IClassFixture<HsmEdgeFixture>
{
    private const string Host = HsmEdgeFixture.Host;

    [Theory]
    [InlineData("-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256", "RSA-PSS")]
    [InlineData("-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256", "ECDSA")]
    [InlineData("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "RSA")]
    [InlineData("-tls1_2", "-cipher", "AES256-GCM-SHA384", "")]
    public async Task A_full_handshake_completes_with_the_key_in_the_hsm(string version, string option, string value, string signatureType)
    {
        var result = await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", bank.EndPoint, "-servername", Host, "-CAfile", bank.CaFile, "-verify_return_error", "-ign_eof", version, option, value],
            standardInput: $"GET / HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("Verify return code: 0 (ok)", result.Output);
        if (signatureType.Length > 0) Assert.Contains($"Peer signature type: {signatureType}", result.All);
        Assert.Contains(TestOrigin.Body, result.Output);
    }
}
