using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace KeylessOrleans.Cli.Admin;

/// <summary>
/// Who may read /metrics and the dashboard: /healthz and /readyz always answer (load balancers and the kubelet carry
/// no credentials); the rest, when <see cref="AdminOptions.GuardsMetrics"/>, only a request with the bearer token, a
/// client certificate the TLS handshake accepted (<see cref="ValidateClientCertificate"/>), or — the dashboard only —
/// its Basic password. Beyond loopback with no credential configured, /metrics answers 403 saying what to configure.
/// </summary>
internal sealed class AdminGuard
{
    private readonly bool _guards;
    private readonly byte[]? _token;
    private readonly byte[]? _dashboardBasic;
    private readonly X509Certificate2Collection? _clientCas;

    public AdminGuard(AdminOptions options, string? dashboardPassword)
    {
        _guards = options.GuardsMetrics;
        _token = string.IsNullOrWhiteSpace(options.TokenFile) ? null : Encoding.UTF8.GetBytes(options.ReadToken());
        _clientCas = string.IsNullOrWhiteSpace(options.ClientCaFile) ? null : options.LoadClientCas();
        _dashboardBasic = dashboardPassword is null ? null : Encoding.UTF8.GetBytes($"{DashboardEndpoint.User}:{dashboardPassword}");
    }

    /// <summary>Any credential configured at all (else a guarded endpoint can only refuse).</summary>
    public bool HasCredentials => _token is not null || _clientCas is not null;

    /// <summary>
    /// The TLS handshake's check of a client certificate (clients may also send none): it must chain to one of the
    /// client CAs alone — not the system's roots — and be valid now.
    /// </summary>
    public bool ValidateClientCertificate(X509Certificate2 certificate)
    {
        if (_clientCas is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientCas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path;
        if (!_guards || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz"))
        {
            await next(context);
            return;
        }
        var dashboard = path.StartsWithSegments(DashboardEndpoint.Path);
        if (Allows(context, dashboard))
        {
            await next(context);
            return;
        }
        if (dashboard && !HasCredentials && _dashboardBasic is null)
        {
            await next(context); // not mapped (AdminServer serves no dashboard it cannot guard): 404
            return;
        }
        if (!HasCredentials && !dashboard)
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync(
                $"{path} is not served beyond loopback without credentials: set {AdminOptions.Section}:TokenFile or {AdminOptions.Section}:ClientCaFile\n");
            return;
        }
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = dashboard && _dashboardBasic is not null
            ? "Basic realm=\"keyless dashboard\""
            : "Bearer realm=\"keyless admin\"";
    }

    private bool Allows(HttpContext context, bool dashboard)
    {
        // The handshake accepted it (ValidateClientCertificate); a connection without one has null here.
        if (_clientCas is not null && context.Connection.ClientCertificate is not null) return true;
        var header = context.Request.Headers.Authorization.ToString();
        if (_token is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[7..].Trim()), _token))
            return true;
        return dashboard && _dashboardBasic is not null && header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)
            && Base64Matches(header[6..].Trim(), _dashboardBasic);
    }

    private static bool Base64Matches(string base64, byte[] expected)
    {
        try
        {
            return CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(base64), expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
