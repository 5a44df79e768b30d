using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Cli.Admin;

/// <summary>
/// The "Keyless:Admin" section: where a silo serves /metrics, /healthz and /readyz (and the dashboard on edges), and
/// how it protects them. On loopback it may be plain and open. Beyond loopback it is HTTPS (<see cref="CertificateFile"/>)
/// unless <see cref="InsecurePlainHttp"/> names the risk, and /metrics and the dashboard answer only a bearer token
/// (<see cref="TokenFile"/>) or a client certificate from <see cref="ClientCaFile"/> (the dashboard also its password);
/// /healthz and /readyz stay open for load balancers and the kubelet.
/// </summary>
public sealed class AdminOptions
{
    public const string Section = "Keyless:Admin";

    /// <summary>HTTP port of the admin endpoint; 0 turns it off. Unset: the role's default (edge 9090, key server 9091).</summary>
    public int? Port { get; set; }

    /// <summary>
    /// Loopback by default: metrics name tenants and host names. Beyond it (e.g. 0.0.0.0 for Kubernetes probes) the
    /// endpoint needs TLS or <see cref="InsecurePlainHttp"/>, and /metrics a token or client certificate.
    /// </summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// Edges serve the Orleans Dashboard at /dashboard on this endpoint. Beyond loopback it is served only with a
    /// password (<see cref="DashboardPasswordFile"/>, HTTP Basic, user "operator"); without one it stays off.
    /// </summary>
    public bool Dashboard { get; set; } = true;

    /// <summary>A file holding the dashboard password (first line), required when <see cref="ListenAddress"/> is not loopback.</summary>
    public string? DashboardPasswordFile { get; set; }

    /// <summary>The endpoint's certificate, PEM (e.g. cert.pem of `keyless cert issue`; a chain after it is sent too): HTTPS instead of HTTP.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>Its private key, PEM (key.pem of `keyless cert issue`).</summary>
    public string? KeyFile { get; set; }

    /// <summary>A file whose first line is the bearer token /metrics and the dashboard accept (<c>Authorization: Bearer …</c>).</summary>
    public string? TokenFile { get; set; }

    /// <summary>CA certificates (PEM): a client certificate issued under one of them is accepted for /metrics and the dashboard. Needs HTTPS.</summary>
    public string? ClientCaFile { get; set; }

    /// <summary>
    /// Serves plain HTTP beyond loopback: whoever is on that network reads every response (metrics name tenants and
    /// host names) and any token sent. Only for a network the operator controls end to end (a pod network probed by
    /// the kubelet, a container's own interface published on the host's loopback).
    /// </summary>
    public bool InsecurePlainHttp { get; set; }

    public bool IsLoopback => IPAddress.TryParse(ListenAddress, out var address) && IPAddress.IsLoopback(address);

    public bool UsesTls => !string.IsNullOrWhiteSpace(CertificateFile);

    /// <summary>/metrics and the dashboard check credentials: beyond loopback always, on loopback once any are configured.</summary>
    public bool GuardsMetrics => !IsLoopback || !string.IsNullOrWhiteSpace(TokenFile) || !string.IsNullOrWhiteSpace(ClientCaFile);

    /// <summary>The certificate with its key, and the rest of the PEM file as its chain.</summary>
    public X509Certificate2 LoadCertificate() => LoadCertificate(out _);

    public X509Certificate2 LoadCertificate(out X509Certificate2Collection chain)
    {
        try
        {
            var certificate = X509Certificate2.CreateFromPemFile(CertificateFile!, KeyFile);
            chain = [];
            chain.ImportFromPemFile(CertificateFile!);
            if (chain.Count > 0) chain.RemoveAt(0);
            return certificate;
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ArgumentException($"{Section}:CertificateFile '{CertificateFile}' with {Section}:KeyFile '{KeyFile}' is not a PEM certificate and its key: {e.Message}", e);
        }
    }

    public X509Certificate2Collection LoadClientCas()
    {
        try
        {
            var cas = new X509Certificate2Collection();
            cas.ImportFromPemFile(ClientCaFile!);
            return cas;
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{Section}:ClientCaFile '{ClientCaFile}' cannot be read as PEM certificates: {e.Message}", e);
        }
    }

    /// <summary>The token: the file's first line, trimmed; at least 16 characters, so it is not a guessable word.</summary>
    public string ReadToken()
    {
        string? token;
        try
        {
            token = File.ReadLines(TokenFile!).FirstOrDefault()?.Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{Section}:TokenFile '{TokenFile}' cannot be read: {e.Message}", e);
        }
        if (token is not { Length: >= 16 }) throw new ArgumentException($"{Section}:TokenFile '{TokenFile}': its first line must be a token of at least 16 characters");
        return token;
    }
}

/// <summary>Refuses admin endpoint settings at start, each problem named by its configuration key.</summary>
internal sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    private const string Section = AdminOptions.Section;

    public ValidateOptionsResult Validate(string? name, AdminOptions o)
    {
        var failures = new List<string>();
        void Require(bool ok, string message) { if (!ok) failures.Add(message); }
        void Loads(Action load)
        {
            try { load(); }
            catch (ArgumentException e) { failures.Add(e.Message); }
        }

        Require(o.Port is null or (>= 0 and <= 65535), $"{Section}:Port must be 0 (off) to 65535, not {o.Port}");
        var isAddress = IPAddress.TryParse(o.ListenAddress, out _);
        Require(isAddress, $"{Section}:ListenAddress must be an IP address, not '{o.ListenAddress}'");
        Require(string.IsNullOrWhiteSpace(o.DashboardPasswordFile) || File.Exists(o.DashboardPasswordFile),
            $"{Section}:DashboardPasswordFile '{o.DashboardPasswordFile}' is not an existing file");
        if (o.Port == 0) return Result(failures); // off: nothing is served, so nothing else needs to hold
        if (string.IsNullOrWhiteSpace(o.CertificateFile) != string.IsNullOrWhiteSpace(o.KeyFile))
            failures.Add($"{Section}:CertificateFile and {Section}:KeyFile go together (cert.pem and key.pem of `keyless cert issue`)");
        else if (o.UsesTls)
            Loads(() => o.LoadCertificate().Dispose());
        if (!string.IsNullOrWhiteSpace(o.ClientCaFile))
        {
            if (!o.UsesTls) failures.Add($"{Section}:ClientCaFile needs HTTPS: set {Section}:CertificateFile and {Section}:KeyFile");
            Loads(() => Require(o.LoadClientCas().Count > 0, $"{Section}:ClientCaFile '{o.ClientCaFile}' holds no certificate"));
        }
        if (!string.IsNullOrWhiteSpace(o.TokenFile)) Loads(() => o.ReadToken());
        Require(!isAddress || o.IsLoopback || o.UsesTls || o.InsecurePlainHttp,
            $"{Section}:ListenAddress {o.ListenAddress} is beyond loopback: serve the admin endpoint over HTTPS ({Section}:CertificateFile and " +
            $"{Section}:KeyFile, e.g. cert.pem and key.pem of `keyless cert issue`; --admin-cert, --admin-key), or accept plain HTTP on that network with " +
            $"{Section}:InsecurePlainHttp=true (--admin-insecure-plain-http): anyone on it reads /metrics (tenants, host names) and any token sent");
        return Result(failures);
    }

    private static ValidateOptionsResult Result(List<string> failures) =>
        failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
}
