using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// The admin endpoint bound beyond loopback, on real `keyless edge` processes: HTTPS with a certificate made by
/// `keyless cert issue`, /metrics and the dashboard only for the bearer token or a client certificate of the named CA,
/// /healthz and /readyz open to anyone; plain HTTP there only when the operator names the risk, and then /metrics
/// still wants credentials.
/// </summary>
public sealed class AdminSecurityTests : IDisposable
{
    private const string Token = "k3yless-admin-token-for-tests-0123456789";
    private readonly TempDirectory _files = new("keyless-admin-security");

    private async Task<string> RunAsync(params string[] arguments)
    {
        var (exitCode, output) = await KeylessProcess.RunToEndAsync(arguments);
        Assert.True(exitCode == 0, $"keyless {string.Join(' ', arguments)}: {output}");
        return output;
    }

    private static async Task<(KeylessProcess Edge, int AdminPort)> StartEdgeAsync(params string[] adminOptions)
    {
        var admin = KeylessProcess.FreePort();
        var edge = KeylessProcess.Start(["edge", "--https-port", $"{KeylessProcess.FreePort()}", "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--admin-port", $"{admin}", "--admin-listen", "0.0.0.0", .. adminOptions]);
        await edge.WaitForLineAsync("Admin endpoint on", TimeSpan.FromSeconds(60));
        return (edge, admin);
    }

    /// <summary>A client that trusts only <paramref name="caFile"/> for the server (the name is a cluster identity, not 127.0.0.1), optionally presenting a client certificate.</summary>
    private static HttpClient Client(string caFile, X509Certificate2? clientCertificate = null)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is not null && chain.Build(certificate);
            },
        };
        if (clientCertificate is not null) handler.ClientCertificates.Add(clientCertificate);
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
    }

    private static async Task<HttpStatusCode> GetAsync(HttpClient client, string url, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Over_https_metrics_and_dashboard_need_the_token_or_a_client_certificate_while_probes_stay_open()
    {
        var ca = Path.Combine(_files.Path, "ca");
        var server = Path.Combine(_files.Path, "server");
        var prometheus = Path.Combine(_files.Path, "prometheus");
        var stranger = Path.Combine(_files.Path, "stranger");
        await RunAsync("ca", "init", "--dir", ca);
        await RunAsync("cert", "issue", "--ca-dir", ca, "--role", "edge", "--name", "edge-admin", "--out", server);
        await RunAsync("cert", "issue", "--ca-dir", ca, "--role", "operator", "--name", "prometheus", "--out", prometheus);
        await RunAsync("ca", "init", "--dir", Path.Combine(_files.Path, "other-ca"));
        await RunAsync("cert", "issue", "--ca-dir", Path.Combine(_files.Path, "other-ca"), "--role", "operator", "--name", "stranger", "--out", stranger);
        var tokenFile = _files.Write("admin-token", Token + "\n");

        var (edge, admin) = await StartEdgeAsync("--admin-cert", Path.Combine(server, "cert.pem"), "--admin-key", Path.Combine(server, "key.pem"),
            "--admin-token-file", tokenFile, "--admin-client-ca", Path.Combine(ca, "ca.pem"));
        await using (edge)
        {
            Assert.Contains($"https://0.0.0.0:{admin}", edge.Output);
            var url = $"https://127.0.0.1:{admin}";
            using var anonymous = Client(Path.Combine(ca, "ca.pem"));
            Assert.Equal(HttpStatusCode.OK, await GetAsync(anonymous, $"{url}/healthz"));
            Assert.NotEqual(HttpStatusCode.Unauthorized, await GetAsync(anonymous, $"{url}/readyz"));

            Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(anonymous, $"{url}/metrics"));
            Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(anonymous, $"{url}/metrics", bearer: "wrong-token-wrong-token"));
            Assert.Equal(HttpStatusCode.OK, await GetAsync(anonymous, $"{url}/metrics", bearer: Token));
            Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(anonymous, $"{url}/dashboard/DashboardCounters"));
            Assert.Equal(HttpStatusCode.OK, await GetAsync(anonymous, $"{url}/dashboard/DashboardCounters", bearer: Token));

            // A client certificate of the named CA is enough; one of another CA does not even finish the handshake.
            using var scraper = Client(Path.Combine(ca, "ca.pem"),
                X509Certificate2.CreateFromPemFile(Path.Combine(prometheus, "cert.pem"), Path.Combine(prometheus, "key.pem")));
            Assert.Equal(HttpStatusCode.OK, await GetAsync(scraper, $"{url}/metrics"));
            using var intruder = Client(Path.Combine(ca, "ca.pem"),
                X509Certificate2.CreateFromPemFile(Path.Combine(stranger, "cert.pem"), Path.Combine(stranger, "key.pem")));
            await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync(intruder, $"{url}/metrics"));

            // Plain HTTP to the HTTPS port gets no metrics.
            using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var plainAnswer = await Record.ExceptionAsync(async () => Assert.NotEqual(HttpStatusCode.OK, await GetAsync(plain, $"http://127.0.0.1:{admin}/metrics", Token)));
            Assert.True(plainAnswer is null or HttpRequestException, plainAnswer?.ToString());
        }
    }

    [Fact]
    public async Task Plain_http_beyond_loopback_needs_the_risk_named_and_then_metrics_still_need_the_token()
    {
        var (refusedExit, refusedOutput) = await KeylessProcess.RunToEndAsync("edge", "--https-port", $"{KeylessProcess.FreePort()}",
            "--silo-port", $"{KeylessProcess.FreePort()}", "--gateway-port", $"{KeylessProcess.FreePort()}", "--admin-listen", "0.0.0.0");
        Assert.Equal(2, refusedExit);
        Assert.Contains("is beyond loopback: serve the admin endpoint over HTTPS", refusedOutput);

        var (open, openAdmin) = await StartEdgeAsync("--admin-insecure-plain-http");
        await using (open)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            Assert.Equal(HttpStatusCode.OK, await GetAsync(http, $"http://127.0.0.1:{openAdmin}/healthz"));
            Assert.Equal(HttpStatusCode.Forbidden, await GetAsync(http, $"http://127.0.0.1:{openAdmin}/metrics")); // no credential configured at all
            Assert.Contains("serves it (Keyless:Admin:InsecurePlainHttp)", open.Output);
            Assert.Contains("/metrics is not served: the admin endpoint listens on 0.0.0.0", open.Output);
        }

        var tokenFile = _files.Write("admin-token", Token + "\n");
        var (guarded, admin) = await StartEdgeAsync("--admin-insecure-plain-http", "--admin-token-file", tokenFile);
        await using (guarded)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(http, $"http://127.0.0.1:{admin}/metrics"));
            Assert.Equal(HttpStatusCode.OK, await GetAsync(http, $"http://127.0.0.1:{admin}/metrics", Token));
            Assert.NotEqual(HttpStatusCode.Unauthorized, await GetAsync(http, $"http://127.0.0.1:{admin}/readyz"));
        }
    }

    public void Dispose() => _files.Dispose();
}
