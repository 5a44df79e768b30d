using System.Diagnostics;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// Mutual TLS between silos with the operator's cluster CA, as operators and tenants set it up with the keyless
/// program: only processes holding a certificate from that CA, for the identity they run as, join; and only
/// callers that prove a role the called grain admits are served.
/// </summary>
public sealed class ClusterTlsTests : IDisposable
{
    private const string Host = "shop.example.test";
    private readonly TempDirectory _files = new("keyless-mtls-test");
    private readonly TestCertificateAuthority _webCa = new();
    private readonly TenantKeyFolder _shopKeys;
    private readonly TenantKeyFolder _rogueKeys;

    public ClusterTlsTests()
    {
        _shopKeys = new TenantKeyFolder(_webCa, [Host]);
        _rogueKeys = new TenantKeyFolder(_webCa, ["rogue.example.test"]);
    }

    private string F(string relative) => Path.Combine(_files.Path, relative);

    /// <summary>The cluster-TLS options of a process whose certificate and key the CLI wrote to <paramref name="folder"/>.</summary>
    private string[] Tls(string folder) => ["--tls-cert", F($"{folder}/cert.pem"), "--tls-key", F($"{folder}/key.pem"), "--tls-ca", F("ca/ca.pem")];

    [Fact]
    public async Task Only_silos_with_a_certificate_from_the_cluster_ca_for_their_own_identity_join()
    {
        // The operator's PKI; the tenant makes its key and CSR itself.
        await RunOkAsync("ca", "init", "--dir", F("ca"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("ca"), "--role", "edge", "--name", "edge1", "--out", F("edge"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("ca"), "--role", "operator", "--out", F("operator"));
        await RunOkAsync("cert", "request", "--tenant", "shop", "--out", F("shop"));
        Assert.False(File.Exists(F("shop/cert.pem")));
        await RunOkAsync("cert", "issue", "--ca-dir", F("ca"), "--role", "onprem", "--tenant", "shop", "--csr", F("shop/csr.pem"), "--out", F("shop"));
        // A second CA, as an attacker would have.
        await RunOkAsync("ca", "init", "--dir", F("other-ca"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("other-ca"), "--role", "onprem", "--tenant", "rogue", "--out", F("rogue"));

        var originPort = KeylessProcess.FreePort();
        var siloPort = KeylessProcess.FreePort();
        var gatewayPort = KeylessProcess.FreePort();
        var httpsPort = KeylessProcess.FreePort();

        await using var origin = KeylessProcess.Start("origin", "--listen", $"127.0.0.1:{originPort}");
        // The key servers below join the edge's cluster: single-organization mode.
        await using var edge = KeylessProcess.Start(["edge", "--shared-cluster", "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", "--https-port", $"{httpsPort}", .. Tls("edge")]);
        await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
        string[] Operator(params string[] command) => [.. command, "--gateway-port", $"{gatewayPort}", .. Tls("operator")];
        await RunOkAsync(Operator("tenant", "add", "shop", "--host", Host, "--origin", $"127.0.0.1:{originPort}"));
        await RunOkAsync(Operator("tenant", "add", "rogue", "--host", "rogue.example.test", "--origin", $"127.0.0.1:{originPort}"));

        // The enrolled key server joins and serves.
        await using var shop = KeylessProcess.Start(["keyserver", "--shared-cluster", "--tenant", "shop", "--keys", _shopKeys.Path, "--silo-port", $"{KeylessProcess.FreePort()}", "--primary", $"127.0.0.1:{siloPort}", .. Tls("shop")]);
        var webCa = _files.Write("web-ca.pem", System.Security.Cryptography.PemEncoding.WriteString("CERTIFICATE", _webCa.Certificate.RawData));
        var served = await Poll.UntilAsync(async () => (await ExternalTool.CurlAsync(Host, httpsPort, webCa)).ExitCode == 0, TimeSpan.FromSeconds(60));
        Assert.True(served, $"the enrolled key server was never served:\n{shop.Output}");
        // The edge's first request was signed; it then opened an edge session, and the next ones carry its HMAC.
        await edge.WaitForLineAsync("Edge session with shop/", TimeSpan.FromSeconds(30));
        await shop.WaitForLineAsync("Edge edge1 opened a session with shop/", TimeSpan.FromSeconds(30));
        for (var i = 0; i < 3; i++) Assert.Equal(0, (await ExternalTool.CurlAsync(Host, httpsPort, webCa)).ExitCode);
        Assert.DoesNotContain("unknown or expired edge session", shop.Output); // each HMAC was taken at the first try
        Assert.DoesNotContain("session MAC", shop.Output);

        // A silo whose certificate comes from another CA is refused at the TLS handshake and never serves.
        await using var rogue = KeylessProcess.Start(["keyserver", "--shared-cluster", "--tenant", "rogue", "--keys", _rogueKeys.Path, "--silo-port", $"{KeylessProcess.FreePort()}",
            "--primary", $"127.0.0.1:{siloPort}", "--tls-cert", F("rogue/cert.pem"), "--tls-key", F("rogue/key.pem"), "--tls-ca", F("other-ca/ca.pem")]);
        await edge.WaitForLineAsync("is not issued by the cluster CA", TimeSpan.FromSeconds(30));
        // And one without any certificate cannot even speak to the edge's silo port.
        await using var plain = KeylessProcess.Start("keyserver", "--shared-cluster", "--tenant", "rogue", "--replica", "plain", "--keys", _rogueKeys.Path,
            "--silo-port", $"{KeylessProcess.FreePort()}", "--primary", $"127.0.0.1:{siloPort}");
        // Its first attempt to reach the edge's silo port fails (the edge sees no TLS): it never joins, so never registers.
        await plain.WaitForLineAsync($"Connection attempt to endpoint S127.0.0.1:{siloPort}:0 failed", TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, (await ExternalTool.CurlAsync("rogue.example.test", httpsPort, webCa)).ExitCode);
        var listed = await KeylessProcess.RunToEndAsync(Operator("tenant", "show", "rogue"));
        Assert.DoesNotContain("replica", listed.Output);

        // A key server whose certificate names another tenant stops at start, naming the mismatch.
        await using var impostor = KeylessProcess.Start(["keyserver", "--shared-cluster", "--tenant", "rogue", "--keys", _rogueKeys.Path, "--silo-port", $"{KeylessProcess.FreePort()}",
            "--primary", $"127.0.0.1:{siloPort}", .. Tls("shop")]);
        Assert.True(await impostor.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, impostor.ExitCode);
        Assert.Contains("its certificate names keyless://onprem/shop/primary", impostor.Output);

        // The operator's commands need the operator certificate too.
        var withoutCertificate = await KeylessProcess.RunToEndAsync("tenant", "list", "--gateway-port", $"{gatewayPort}");
        Assert.NotEqual(0, withoutCertificate.ExitCode);
    }

    [Fact]
    public async Task The_tenants_security_team_changes_its_allowed_edges_and_delegation_policy_in_the_config_file_and_the_running_key_server_applies_them()
    {
        await RunOkAsync("ca", "init", "--dir", F("ca"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("ca"), "--role", "edge", "--name", "edge1", "--out", F("edge"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("ca"), "--role", "operator", "--out", F("operator"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("ca"), "--role", "onprem", "--tenant", "shop", "--out", F("shop"));
        var originPort = KeylessProcess.FreePort();
        var siloPort = KeylessProcess.FreePort();
        var gatewayPort = KeylessProcess.FreePort();
        var httpsPort = KeylessProcess.FreePort();
        var policy = F("shop.json");
        void Policy(string access) => File.WriteAllText(policy, "{ \"Keyless\": { \"KeyServer\": { \"Access\": " + access + " } } }");
        Policy("{ \"AllowedEdges\": [ \"edge1\" ] }");

        await using var origin = KeylessProcess.Start("origin", "--listen", $"127.0.0.1:{originPort}");
        // The key servers below join the edge's cluster: single-organization mode.
        await using var edge = KeylessProcess.Start(["edge", "--shared-cluster", "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", "--https-port", $"{httpsPort}", .. Tls("edge")]);
        await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
        await RunOkAsync(["tenant", "add", "shop", "--host", Host, "--origin", $"127.0.0.1:{originPort}", "--gateway-port", $"{gatewayPort}", .. Tls("operator")]);
        await using var shop = KeylessProcess.Start(["keyserver", "--shared-cluster", "--tenant", "shop", "--keys", _shopKeys.Path, "--config", policy,
            "--silo-port", $"{KeylessProcess.FreePort()}", "--primary", $"127.0.0.1:{siloPort}", .. Tls("shop")]);
        var webCa = _files.Write("web-ca.pem", System.Security.Cryptography.PemEncoding.WriteString("CERTIFICATE", _webCa.Certificate.RawData));
        async Task<int> CurlAsync() => (await ExternalTool.CurlAsync(Host, httpsPort, webCa)).ExitCode;
        Assert.True(await Poll.UntilAsync(async () => await CurlAsync() == 0, TimeSpan.FromSeconds(60)), $"never served:\n{shop.Output}");

        // edge1 is taken off the list: its next handshakes fail, without a restart.
        Policy("{ \"AllowedEdges\": [ \"edge2\" ] }");
        await shop.WaitForLineAsync("Access policy reloaded: allowed edges: edge2", TimeSpan.FromSeconds(20));
        Assert.NotEqual(0, await CurlAsync());
        await shop.WaitForLineAsync("edge edge1 is not among this tenant's allowed edges", TimeSpan.FromSeconds(10));

        // A broken change is refused and the running policy stays: a negative rate, then a file that does not parse
        // (as an editor may leave it for a moment) — not read as "no allow-list", which would let every edge in.
        Policy("{ \"AllowedEdges\": [ \"edge1\" ], \"PerEdgeRate\": -5 }");
        await shop.WaitForLineAsync("Access policy change refused", TimeSpan.FromSeconds(20));
        Assert.NotEqual(0, await CurlAsync());
        using var admin = new AdminEndpoint(shop.AdminPort); // what the security team's alert watches
        var metrics = await admin.MetricsAsync();
        Assert.True(AdminEndpoint.Sum(metrics, "keyless_keyserver_policy_changes_total", ("outcome", "refused")) >= 1, metrics);
        Assert.True(AdminEndpoint.Sum(metrics, "keyless_keyserver_policy_changes_total", ("outcome", "applied")) >= 1, metrics);
        File.WriteAllText(policy, "{ \"Keyless\": { \"KeyServer\": ");
        await shop.WaitForLineAsync("Failed to load configuration from file", TimeSpan.FromSeconds(20));
        Assert.NotEqual(0, await CurlAsync());

        // Back on the list: served again.
        Policy("{ \"AllowedEdges\": [ \"edge1\" ] }");
        await shop.WaitForLineAsync("Access policy reloaded: allowed edges: edge1", TimeSpan.FromSeconds(20));
        Assert.Equal(0, await CurlAsync());

        // The delegated-credential policy lives in the same file and applies the same way.
        Assert.Contains("Delegated credentials: issuing, at most 1.00:00:00 valid", shop.Output);
        File.WriteAllText(policy, "{ \"Keyless\": { \"KeyServer\": { \"Access\": { \"AllowedEdges\": [ \"edge1\" ] }, \"DelegatedCredentials\": { \"Enabled\": false } } } }");
        await shop.WaitForLineAsync("Delegated-credential policy reloaded: not issuing", TimeSpan.FromSeconds(20));
        Assert.Equal(0, await CurlAsync());
        Assert.False(shop.HasExited);
    }

    [Fact]
    public async Task The_operator_cluster_serves_only_callers_that_prove_a_role_the_grain_admits_and_keeps_tenants_out()
    {
        await RunOkAsync("ca", "init", "--dir", F("ca"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("ca"), "--role", "edge", "--name", "edge1", "--out", F("edge"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("ca"), "--role", "operator", "--out", F("operator"));
        await RunOkAsync("cert", "issue", "--ca-dir", F("ca"), "--role", "onprem", "--tenant", "shop", "--out", F("shop"));
        var siloPort = KeylessProcess.FreePort();
        var gatewayPort = KeylessProcess.FreePort();
        await using var edge = KeylessProcess.Start(["edge", "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", "--https-port", "0", .. Tls("edge")]);
        await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));

        // The operator's commands sign every call: they work.
        await RunOkAsync(["tenant", "add", "shop", "--host", Host, "--origin", "127.0.0.1:9", "--gateway-port", $"{gatewayPort}", .. Tls("operator")]);
        await RunOkAsync(["status", "--gateway-port", $"{gatewayPort}", .. Tls("operator")]);

        // The same operator certificate in a client that signs nothing (TLS alone) is refused by the edge.
        await using (var unsigned = await ClientAsync(gatewayPort, client => client.UseTls(Certificate("operator"), tls =>
                     {
                         tls.AllowAnyRemoteCertificate();
                         tls.OnAuthenticateAsClient = (_, settings) => settings.TargetHost = "keyless-cluster";
                     })))
        {
            var registry = unsigned.Services.GetRequiredService<IClusterClient>().GetGrain<Registry.IRegistryGrain>(Registry.IRegistryGrain.DefaultKey);
            var refused = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => registry.RemoveTenantAsync("shop"));
            Assert.Contains("no cluster proof", refused.Message);
            var status = unsigned.Services.GetRequiredService<IClusterClient>().GetGrain<Status.IClusterStatusGrain>(Status.IClusterStatusGrain.DefaultKey);
            Assert.Contains("no cluster proof", (await Assert.ThrowsAsync<UnauthorizedAccessException>(() => status.GetStatusAsync())).Message);
        }
        var listed = await KeylessProcess.RunToEndAsync(["tenant", "show", "shop", "--gateway-port", $"{gatewayPort}", .. Tls("operator")]);
        Assert.Contains(Host, listed.Output);

        // With proofs, an operator still may not read the edges' session-ticket keys, nor use the handshake grain.
        await using (var signed = await ClientAsync(gatewayPort, client => client.UseKeylessTls(ClusterOptions("operator", gatewayPort))))
        {
            var grains = signed.Services.GetRequiredService<IClusterClient>();
            var tickets = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => grains.GetGrain<Edge.Tls.Tickets.ISessionTicketKeysGrain>(0).GetKeysAsync());
            Assert.Contains("keyless://operator/operator may not call it", tickets.Message);
            // An operator reads the cluster's status but cannot report as an edge (forging handshake counts).
            var status = grains.GetGrain<Status.IClusterStatusGrain>(Status.IClusterStatusGrain.DefaultKey);
            Assert.NotEmpty((await status.GetStatusAsync()).Silos);
            var forged = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => status.ReportEdgeAsync(
                new Status.EdgeStatusReport("edge", "forged", DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), [], 0)));
            Assert.Contains("keyless://operator/operator may not call it", forged.Message);
            await Assert.ThrowsAsync<UnauthorizedAccessException>(() => grains.GetGrain<Edge.Handshake.IHandshakeGrain>(0).PerformAsync(new Edge.Handshake.KeyCall(["primary"], []),
                new Keys.SignCertificateVerifyRequest(new Keys.KeyRequestContext("shop", "key", Host, null, "operator"), Keys.SignatureScheme.EcdsaSecp256r1Sha256, new byte[64])));
            // The registry's inner grains are for edges only: an operator changes tenants through the registry's door,
            // which checks what it is given, never by writing a tenant's record or a host name's holder directly.
            foreach (var inner in new Func<Task>[]
                     {
                         () => grains.GetGrain<Cluster.Registry.ITenantGrain>("shop").RemoveAsync(),
                         () => grains.GetGrain<Cluster.Registry.IHostNameGrain>(Host).ClaimAsync("other"),
                         () => grains.GetGrain<Cluster.Registry.ITenantDirectoryGrain>("0").AddAsync("ghost"),
                         () => grains.GetGrain<Registry.IRegistryFeedGrain>(Registry.IRegistryGrain.DefaultKey).PublishAsync("shop", [], removed: true),
                     })
            {
                Assert.Contains("keyless://operator/operator may not call it", (await Assert.ThrowsAsync<UnauthorizedAccessException>(inner)).Message);
            }
            var registry = grains.GetGrain<Registry.IRegistryGrain>(Registry.IRegistryGrain.DefaultKey);
            Assert.Contains("shop", await registry.ListTenantsAsync(null, 100)); // what operators may read, they read
            Assert.Equal(Host, (await registry.GetTenantAsync("shop"))!.Settings.HostNames.Single());
        }
        using (var admin = new AdminEndpoint(edge.AdminPort))
        {
            var metrics = await admin.MetricsAsync();
            Assert.True(AdminEndpoint.Sum(metrics, "keyless_edge_grain_calls_refused_total", ("reason", "no-proof")) >= 1, metrics);
            Assert.True(AdminEndpoint.Sum(metrics, "keyless_edge_grain_calls_refused_total", ("reason", "role")) >= 1, metrics);
        }

        // Outside single-organization mode a tenant's certificate opens neither port: not the silo port ...
        await using var shop = KeylessProcess.Start(["keyserver", "--shared-cluster", "--tenant", "shop", "--keys", _shopKeys.Path, "--silo-port", $"{KeylessProcess.FreePort()}",
            "--primary", $"127.0.0.1:{siloPort}", .. Tls("shop")]);
        await edge.WaitForLineAsync("keyless://onprem/shop/primary has no business on this connection (accepted here: edge)", TimeSpan.FromSeconds(30));
        // ... nor the gateway.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var tenant = await ClientAsync(gatewayPort, client => client.UseTls(Certificate("shop"), tls =>
            {
                tls.AllowAnyRemoteCertificate();
                tls.OnAuthenticateAsClient = (_, settings) => settings.TargetHost = "keyless-cluster";
            }));
            await tenant.Services.GetRequiredService<IClusterClient>().GetGrain<Registry.IRegistryGrain>(Registry.IRegistryGrain.DefaultKey).ListTenantsAsync(null, 10);
        });
        await edge.WaitForLineAsync("keyless://onprem/shop/primary has no business on this connection (accepted here: edge, operator)", TimeSpan.FromSeconds(30));
        var shown = await KeylessProcess.RunToEndAsync(["tenant", "show", "shop", "--gateway-port", $"{gatewayPort}", .. Tls("operator")]);
        Assert.DoesNotContain("replica", shown.Output);
    }

    private System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate(string folder) =>
        System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(F($"{folder}/cert.pem"), F($"{folder}/key.pem"));

    private Cluster.Hosting.KeylessClusterOptions ClusterOptions(string folder, int gatewayPort) => new()
    {
        GatewayPort = gatewayPort,
        TlsCertificate = F($"{folder}/cert.pem"),
        TlsKey = F($"{folder}/key.pem"),
        TlsCa = F("ca/ca.pem"),
    };

    /// <summary>An Orleans client of the edge's gateway, built in this process as an attacker (or a tool) would.</summary>
    private static async Task<OrleansClientHost> ClientAsync(int gatewayPort, Action<IClientBuilder> tls)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            Cluster.Hosting.ClusteringExtensions.UseKeylessClustering(client, new Cluster.Hosting.KeylessClusterOptions { GatewayPort = gatewayPort });
            tls(client);
        });
        var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await host.StartAsync(timeout.Token);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new OrleansClientHost(host);
    }

    private sealed class OrleansClientHost(IHost host) : IAsyncDisposable
    {
        public IServiceProvider Services => host.Services;

        public async ValueTask DisposeAsync()
        {
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
        }
    }

    private static async Task RunOkAsync(params string[] arguments)
    {
        var (exitCode, output) = await KeylessProcess.RunToEndAsync(arguments);
        Assert.True(exitCode == 0, $"keyless {string.Join(' ', arguments)} failed:\n{output}");
    }

    public void Dispose()
    {
        _shopKeys.Dispose();
        _rogueKeys.Dispose();
        _webCa.Dispose();
        _files.Dispose();
    }
}
