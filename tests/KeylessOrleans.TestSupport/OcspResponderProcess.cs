using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// A real OCSP responder for the test CA: <c>openssl ocsp</c> as a server on a free port, answering from an index
/// of certificates (good or revoked) with responses signed by the CA and valid for a few minutes. Edges reach it
/// on 127.0.0.1 only. Stopped by PID on dispose.
/// </summary>
public sealed class OcspResponderProcess : IAsyncDisposable
{
    private readonly TempDirectory _files = new("keyless-ocsp");
    private readonly List<string> _index = [];
    private readonly TestCertificateAuthority _authority;
    private KeylessProcess? _process;

    public OcspResponderProcess(TestCertificateAuthority authority)
    {
        _authority = authority;
        Port = KeylessProcess.FreePort();
    }

    public int Port { get; }

    /// <summary>The URL to put in certificates' Authority Information Access.</summary>
    public Uri Url => new($"http://127.0.0.1:{Port}/");

    /// <summary>Lists a certificate the CA issued as good, or as revoked an hour ago (before <see cref="StartAsync"/>).</summary>
    public void Add(byte[] certificateDer, bool revoked = false)
    {
        using var certificate = X509CertificateLoader.LoadCertificate(certificateDer);
        var expiry = certificate.NotAfter.ToUniversalTime().ToString("yyMMddHHmmss") + "Z";
        var revocation = revoked ? DateTime.UtcNow.AddHours(-1).ToString("yyMMddHHmmss") + "Z" : "";
        // openssl's CA database: status, expiry, revocation time, serial (hex), file name, subject.
        _index.Add($"{(revoked ? "R" : "V")}\t{expiry}\t{revocation}\t{certificate.SerialNumber}\tunknown\t/CN={certificate.GetNameInfo(X509NameType.SimpleName, false)}");
    }

    public async Task StartAsync()
    {
        var index = _files.Write("index.txt", string.Join("\n", _index) + "\n");
        var ca = _files.Write("ca.pem", PemEncoding.WriteString("CERTIFICATE", _authority.Certificate.RawData));
        var key = _files.Write("ca-key.pem", _authority.KeyPem);
        _process = KeylessProcess.StartProgram("openssl",
            ["ocsp", "-index", index, "-port", $"{Port}", "-rsigner", ca, "-rkey", key, "-CA", ca, "-nmin", "5", "-ignore_err"], null);
        await _process.WaitForLineAsync("waiting for OCSP client connections", TimeSpan.FromSeconds(20));
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        _files.Dispose();
    }
}
