using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace KeylessOrleans.Edge.WarmUp;

/// <summary>One kind of handshake the warm-up makes: the host picks the key (ECDSA or RSA), the protocol and suites the rest.</summary>
/// <param name="Suites">Offered in a full handshake; a resumption offers the client's defaults (see <see cref="WarmUpClient"/>).</param>
/// <param name="Resume">Offer the session of the previous handshake with the same host and settings (TLS 1.2: its ticket).</param>
internal sealed record WarmUpScenario(string Name, string Host, SslProtocols Protocol, TlsCipherSuite[] Suites, bool SendRequest, bool Resume = false)
{
    /// <summary>
    /// What production traffic asks of an edge: TLS 1.3 and 1.2, ECDSA and RSA, ECDHE and RSA key exchange, each
    /// full (the key operation) and TLS 1.2 resumed too (the client offers its ticket from a handshake before), and
    /// a request forwarded to the origin on some of them.
    /// </summary>
    public static readonly IReadOnlyList<WarmUpScenario> All =
    [
        new("TLS 1.3 ECDSA", WarmUpTenant.EcdsaHost, SslProtocols.Tls13, [TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384], SendRequest: true),
        new("TLS 1.3 RSA", WarmUpTenant.RsaHost, SslProtocols.Tls13, [TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256], SendRequest: false),
        new("TLS 1.2 ECDHE-ECDSA", WarmUpTenant.EcdsaHost, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256], SendRequest: false),
        new("TLS 1.2 ECDHE-RSA", WarmUpTenant.RsaHost, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384], SendRequest: true),
        new("TLS 1.2 RSA key exchange", WarmUpTenant.RsaHost, SslProtocols.Tls12, [TlsCipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256], SendRequest: false),
        new("TLS 1.2 ECDHE-ECDSA resumed", WarmUpTenant.EcdsaHost, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384], SendRequest: false, Resume: true),
        new("TLS 1.2 ECDHE-RSA resumed", WarmUpTenant.RsaHost, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256], SendRequest: true, Resume: true),
    ];
}

/// <summary>
/// The warm-up's client: .NET's own TLS (OpenSSL), so the edge meets a client it did not write, and client-side work
/// costs the edge's JIT little. It trusts exactly the warm-up's two self-signed certificates.
/// </summary>
internal sealed class WarmUpClient(IPEndPoint edge, IReadOnlyList<byte[]> certificates)
{
    /// <summary>Connects, handshakes (a TLS 1.2 client offers the session it holds for the host, so the second is resumed), maybe sends a request.</summary>
    public async Task HandshakeAsync(WarmUpScenario scenario, CancellationToken cancellationToken)
    {
        using var socket = new Socket(edge.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(edge, cancellationToken);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await using var tls = new SslStream(stream, leaveInnerStreamOpen: true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = scenario.Host,
            EnabledSslProtocols = scenario.Protocol,
            // .NET resumes a session only without a suite list (the list is not part of its session cache's key), and
            // Windows' TLS takes none: then the client offers its defaults, and the edge picks by the host's key.
            CipherSuitesPolicy = scenario.Resume || OperatingSystem.IsWindows() ? null : new CipherSuitesPolicy(scenario.Suites),
            RemoteCertificateValidationCallback = IsWarmUpCertificate,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            AllowTlsResume = scenario.Resume,
        }, cancellationToken);
        if (scenario.SendRequest)
        {
            await tls.WriteAsync("GET / HTTP/1.1\r\nHost: warm-up\r\n\r\n"u8.ToArray(), cancellationToken);
            var buffer = new byte[256];
            while (await tls.ReadAsync(buffer, cancellationToken) > 0)
            {
                // Read to the origin's close: the whole forwarding path, both ways.
            }
        }
        else
        {
            await tls.ShutdownAsync();
        }
    }

    /// <summary>Only the warm-up's own certificates: this client talks to the edge's warm-up listener and nothing else.</summary>
    private bool IsWarmUpCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && certificates.Any(c => c.AsSpan().SequenceEqual(certificate.GetRawCertData()));
}
