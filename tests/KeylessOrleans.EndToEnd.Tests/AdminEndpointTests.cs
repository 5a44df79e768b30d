using System.Security.Cryptography;
using System.Text.Json;
using KeylessOrleans.TestSupport;
using Xunit.Abstractions;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// What an operator's Prometheus and load balancer see of real `keyless edge` / `keyless keyserver` processes:
/// counters and histograms that move with real handshakes, and readiness that follows the key server.
/// </summary>
public sealed class AdminEndpointTests : IDisposable
{
    private const string Host = "shop.example.test";
    private readonly TempDirectory _files = new("keyless-admin-test");
    private readonly TestCertificateAuthority _ca = new();
    private readonly TenantKeyFolder _keys;
    private readonly ITestOutputHelper _output;

    public AdminEndpointTests(ITestOutputHelper output)
    {
        _output = output;
        _keys = new TenantKeyFolder(_ca, [Host]);
    }

    [Fact]
    public async Task Metrics_move_with_real_handshakes_and_readiness_follows_the_key_server()
    {
        var originPort = KeylessProcess.FreePort();
        var httpsPort = KeylessProcess.FreePort();
        var siloPort = KeylessProcess.FreePort();
        var caFile = _files.Write("ca.pem", PemEncoding.WriteString("CERTIFICATE", _ca.Certificate.RawData));

        await using var origin = KeylessProcess.Start("origin", "--listen", $"127.0.0.1:{originPort}");
        await using var edge = StartEdge(httpsPort, siloPort, originPort);
        using var edgeAdmin = new AdminEndpoint(edge.AdminPort);
        KeylessProcess? keyServer = null;
        try
        {
            // Alive as soon as it answers; ready once joined, the registry's feed read and the listener bound. Once it
            // has been asked for the tenant, which has no key server yet: Degraded, still 200 (every edge would say the
            // same; draining this one helps nobody).
            await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
            Assert.Equal(200, (await edgeAdmin.GetAsync("healthz")).Status);
            Assert.True(await Poll.UntilAsync(async () => await edgeAdmin.GetAsync("readyz") is (200, var body) && Overall(body) == "Healthy", TimeSpan.FromSeconds(30)),
                $"edge /readyz: {await edgeAdmin.GetAsync("readyz")}");
            Assert.True(await Poll.UntilAsync(async () =>
                {
                    await HandshakeAsync(httpsPort, caFile, Host); // the tenant file may still be on its way in
                    return await edgeAdmin.GetAsync("readyz") is (200, var body) && Overall(body) == "Degraded";
                }, TimeSpan.FromSeconds(30)),
                $"edge /readyz: {await edgeAdmin.GetAsync("readyz")}");

            keyServer = KeylessProcess.Start("keyserver", "--shared-cluster", "--tenant", "shop", "--keys", _keys.Path,
                "--silo-port", $"{KeylessProcess.FreePort()}", "--primary", $"127.0.0.1:{siloPort}");
            using var keyServerAdmin = new AdminEndpoint(keyServer.AdminPort);
            Assert.True(await Poll.UntilAsync(async () => (await keyServerAdmin.GetAsync("readyz")).Status == 200, TimeSpan.FromSeconds(60)),
                $"key server /readyz: {await keyServerAdmin.GetAsync("readyz")}\n{keyServer.Output}");
            Assert.True(await Poll.UntilAsync(async () => await edgeAdmin.GetAsync("readyz") is (200, var body) && Overall(body) == "Healthy", TimeSpan.FromSeconds(30)),
                $"edge /readyz: {await edgeAdmin.GetAsync("readyz")}");

            var before = await edgeAdmin.MetricsAsync();
            for (var i = 0; i < 2; i++)
                Assert.Contains("Hello from the KeylessOrleans demo origin", (await HandshakeAsync(httpsPort, caFile, Host)).Output);
            Assert.Contains("alert", (await HandshakeAsync(httpsPort, caFile, "nobody.example.test")).All);

            (string, string)[] shopOk = [("tenant", "shop"), ("outcome", "ok"), ("resumed", "false")];
            var after = "";
            Assert.True(await Poll.UntilAsync(async () =>
            {
                after = await edgeAdmin.MetricsAsync(); // the exporter may serve a cached scrape for a moment
                return AdminEndpoint.Sum(after, "keyless_edge_handshakes_total", shopOk) - AdminEndpoint.Sum(before, "keyless_edge_handshakes_total", shopOk) >= 2;
            }, TimeSpan.FromSeconds(10)), $"edge /metrics:\n{after}");
            _output.WriteLine(string.Join('\n', after.Split('\n').Where(l => l.StartsWith("keyless_", StringComparison.Ordinal))));

            Assert.Contains(AdminEndpoint.Samples(after, "keyless_edge_handshakes_total"), s => s.Labels["tenant"] == "shop" && s.Labels["version"].Contains("1.3"));
            Assert.True(AdminEndpoint.Sum(after, "keyless_edge_handshakes_total", ("outcome", "unrecognized_name")) >= 1, "a refused name counts too");
            Assert.True(AdminEndpoint.Sum(after, "keyless_edge_key_call_duration_milliseconds_count", ("tenant", "shop"), ("outcome", "Ok")) >= 2);
            Assert.True(AdminEndpoint.Sum(after, "keyless_edge_handshake_duration_milliseconds_bucket", ("tenant", "shop"), ("le", "+Inf")) >= 2);
            var expiry = Assert.Single(AdminEndpoint.Samples(after, "keyless_edge_certificate_expiry_seconds"), s => s.Labels["host_name"] == Host && s.Labels["key_id"] == _keys.EcdsaKeyId);
            Assert.InRange(expiry.Value, TimeSpan.FromDays(1).TotalSeconds, TimeSpan.FromDays(3650).TotalSeconds);
            Assert.Single(AdminEndpoint.Samples(after, "keyless_edge_handshake_pool_busy"));
            Assert.Contains("\norleans_", after); // Orleans' own meter
            Assert.Contains("\ndotnet_", after); // the runtime's

            var keyServerMetrics = await keyServerAdmin.MetricsAsync();
            Assert.True(AdminEndpoint.Sum(keyServerMetrics, "keyless_keyserver_operation_duration_milliseconds_bucket", ("outcome", "Ok"), ("le", "+Inf")) >= 2,
                $"key server /metrics:\n{keyServerMetrics}");
            Assert.True(AdminEndpoint.Sum(keyServerMetrics, "keyless_keyserver_operations_total", ("outcome", "Ok")) >= 2);

            // A graceful stop: the key server leaves readiness before it exits. The edge stays ready: it still serves
            // every other tenant, and every edge is in the same position, so draining it would help no one.
            keyServer.Signal(System.Runtime.InteropServices.PosixSignal.SIGTERM);
            Assert.True(await Poll.UntilAsync(async () => (await keyServerAdmin.GetAsync("readyz")).Status != 200, TimeSpan.FromSeconds(30)));
            Assert.True(await keyServer.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the key server did not stop");
            Assert.Equal(0, (await keyServerAdmin.GetAsync("healthz")).Status);
            Assert.Equal(200, (await edgeAdmin.GetAsync("readyz")).Status);
        }
        finally
        {
            if (keyServer is not null) await keyServer.DisposeAsync();
            _output.WriteLine("--- edge output ---\n" + edge.Output);
            if (keyServer is not null) _output.WriteLine("--- key server output ---\n" + keyServer.Output);
        }
    }

    [Fact]
    public async Task Edge_is_not_ready_until_its_warm_up_is_over_and_the_warm_up_is_not_tenant_traffic()
    {
        var httpsPort = KeylessProcess.FreePort();
        var caFile = _files.Write("ca.pem", PemEncoding.WriteString("CERTIFICATE", _ca.Certificate.RawData));
        // At least 20 rounds of half a second: the warm-up outlasts the silo's join and the registry's first read.
        await using var edge = StartEdge(httpsPort, KeylessProcess.FreePort(), KeylessProcess.FreePort(), new Dictionary<string, string>
        {
            [KeylessProcess.WarmUpVariable] = "true",
            ["KEYLESS__EDGE__WARMUP__MINROUNDS"] = "20",
            ["KEYLESS__EDGE__WARMUP__MAXDURATION"] = "00:01:30",
        });
        using var admin = new AdminEndpoint(edge.AdminPort);
        try
        {
            await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
            // Unready for other reasons first (joining, registry), then for the warm-up alone, then ready.
            var warming = false;
            Assert.True(await Poll.UntilAsync(async () =>
            {
                var (status, body) = await admin.GetAsync("readyz");
                warming |= status == 503 && body.Contains("warming up");
                return status == 200;
            }, TimeSpan.FromSeconds(120)), $"edge /readyz: {await admin.GetAsync("readyz")}\n{edge.Output}");
            Assert.True(warming, "/readyz never said it was warming up (make MinRounds larger)");
            await edge.WaitForLineAsync("Edge warmed up", TimeSpan.FromSeconds(10)); // logged before the warm-up counts as over
            var ready = JsonDocument.Parse((await admin.GetAsync("readyz")).Body).RootElement;
            var warmedUp = ready.GetProperty("checks").GetProperty("edge").GetProperty("data").GetProperty("warm_up_handshakes").GetInt64();
            Assert.True(warmedUp >= 20 * 7, $"{warmedUp} warm-up handshakes"); // every kind of handshake in every round at least
            Assert.DoesNotContain("warm-up handshakes failed", edge.Output);
            Assert.Matches(@"handshakes with itself \([1-9][0-9]* resumed\)", edge.Output);

            // None of it is the edge's traffic: no handshake, connection or key call in /metrics, no failed-handshake line.
            var metrics = await admin.MetricsAsync();
            Assert.Equal(0, AdminEndpoint.Sum(metrics, "keyless_edge_handshakes_total"));
            Assert.Equal(0, AdminEndpoint.Sum(metrics, "keyless_edge_handshake_duration_milliseconds_count"));
            Assert.Equal(0, AdminEndpoint.Sum(metrics, "keyless_edge_key_calls_total"));
            Assert.DoesNotContain("warm-up", metrics, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("warm_up", metrics, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("Handshake from", edge.Output); // the failed-handshake log (event 3201)

            // The warm-up's names were its own route table's: the edge's listener does not know them.
            Assert.Contains("alert", (await HandshakeAsync(httpsPort, caFile, "ecdsa.warm-up.keyless.invalid")).All);
            string after = "";
            Assert.True(await Poll.UntilAsync(async () =>
            {
                after = await admin.MetricsAsync(); // the exporter may serve a cached scrape for a moment
                return AdminEndpoint.Sum(after, "keyless_edge_handshakes_total", ("outcome", "unrecognized_name")) == 1;
            }, TimeSpan.FromSeconds(10)), $"edge /metrics:\n{after}");
            Assert.Equal(1, AdminEndpoint.Sum(after, "keyless_edge_handshakes_total"));
        }
        finally
        {
            _output.WriteLine("--- edge output ---\n" + edge.Output);
        }
    }

    [Fact]
    public async Task Json_logs_are_one_object_per_line_and_name_each_of_the_first_failed_handshakes_with_its_reason()
    {
        var httpsPort = KeylessProcess.FreePort();
        var caFile = _files.Write("ca.pem", PemEncoding.WriteString("CERTIFICATE", _ca.Certificate.RawData));
        await using var edge = StartEdge(httpsPort, KeylessProcess.FreePort(), KeylessProcess.FreePort(), "--log-format", "json");
        await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));

        for (var i = 0; i < 2; i++) await HandshakeAsync(httpsPort, caFile, "nobody.example.test");
        // A third failure, logged after the first two: once its line is out, so is any line the first two caused.
        await HandshakeAsync(httpsPort, caFile, "barrier.example.test");
        await edge.WaitForLineAsync("barrier.example.test", TimeSpan.FromSeconds(10));

        var entries = edge.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        var failures = entries.Where(e => e.GetProperty("EventId").GetInt32() == 3201
            && e.GetProperty("State").GetProperty("ServerName").GetString() != "barrier.example.test").ToList();
        Assert.Equal(2, failures.Count);
        foreach (var failure in failures)
        {
            var state = failure.GetProperty("State");
            Assert.Equal("nobody.example.test", state.GetProperty("ServerName").GetString());
            Assert.Equal("unrecognized_name", state.GetProperty("Reason").GetString());
            Assert.Equal("127.0.0.1", state.GetProperty("Client").GetString());
            Assert.Equal("-", state.GetProperty("Tenant").GetString()); // no tenant serves the name
        }
        Assert.DoesNotContain("PRIVATE KEY", edge.Output);
    }

    /// <summary>
    /// A load balancer sends clients as soon as /readyz says 200: by then every tenant of the edge's --tenants file must
    /// be in the registry, or its clients get unrecognized_name. The file here is long enough (300 tenants, the one
    /// asked for last) that the import outlasts the edge's own start.
    /// </summary>
    [Fact]
    public async Task An_edge_started_with_a_tenants_file_is_ready_only_once_every_tenant_of_it_is_in_the_registry()
    {
        const int count = 300;
        var httpsPort = KeylessProcess.FreePort();
        var caFile = _files.Write("ca.pem", PemEncoding.WriteString("CERTIFICATE", _ca.Certificate.RawData));
        var tenants = _files.Write("many-tenants.json", JsonSerializer.Serialize(new
        {
            tenants = Enumerable.Range(0, count - 1)
                .Select(i => new { tenant = $"filler{i}", hostNames = new[] { $"filler{i}.example.test" }, origin = new { host = "127.0.0.1", port = 9 } })
                .Append(new { tenant = "shop", hostNames = new[] { Host }, origin = new { host = "127.0.0.1", port = 9 } }),
        }));
        await using var edge = StartFileEdge(tenants, httpsPort, new Dictionary<string, string>());
        using var edgeAdmin = new AdminEndpoint(edge.AdminPort);
        try
        {
            var ready = await FirstReadyAsync(edgeAdmin);

            // The first client after ready, for the file's last tenant: it has no key server, so the handshake fails,
            // but as a tenant the edge knows, not as a name it has never heard of.
            var handshake = await HandshakeAsync(httpsPort, caFile, Host);
            Assert.DoesNotContain("unrecognized name", handshake.All);
            var metrics = "";
            Assert.True(await Poll.UntilAsync(async () => AdminEndpoint.Sum(metrics = await edgeAdmin.MetricsAsync(), "keyless_edge_handshakes_total") >= 1,
                TimeSpan.FromSeconds(10)), metrics);
            Assert.Equal(0, AdminEndpoint.Sum(metrics, "keyless_edge_handshakes_total", ("outcome", "unrecognized_name")));

            // What /readyz said: the file's own check, with the count.
            var check = JsonDocument.Parse(ready.Body).RootElement.GetProperty("checks").GetProperty("tenants-file");
            Assert.Equal("Healthy", check.GetProperty("status").GetString());
            Assert.Equal(count, check.GetProperty("data").GetProperty("imported").GetInt32());
        }
        finally
        {
            _output.WriteLine("--- edge output ---\n" + edge.Output);
        }
    }

    /// <summary>
    /// A file so long that importing it outlasts Keyless:Edge:TenantsFileReadyWithin: the edge reports ready but
    /// Degraded, saying how far the import got, rather than stay out of the load balancer; the import goes on to the end.
    /// </summary>
    [Fact]
    public async Task A_tenants_file_still_importing_after_its_time_leaves_the_edge_ready_but_degraded_until_it_is_in()
    {
        const int count = 1000; // ~5 ms a new tenant here: longer than the 1 s allowed
        var tenants = _files.Write("long-tenants.json", JsonSerializer.Serialize(new
        {
            tenants = Enumerable.Range(0, count)
                .Select(i => new { tenant = $"filler{i}", hostNames = new[] { $"filler{i}.example.test" }, origin = new { host = "127.0.0.1", port = 9 } }),
        }));
        await using var edge = StartFileEdge(tenants, KeylessProcess.FreePort(), new Dictionary<string, string> { ["KEYLESS__EDGE__TENANTSFILEREADYWITHIN"] = "00:00:01" });
        using var edgeAdmin = new AdminEndpoint(edge.AdminPort);
        try
        {
            var ready = await FirstReadyAsync(edgeAdmin);
            Assert.Equal("Degraded", Overall(ready.Body));
            var check = JsonDocument.Parse(ready.Body).RootElement.GetProperty("checks").GetProperty("tenants-file");
            Assert.Equal("Degraded", check.GetProperty("status").GetString());
            Assert.Contains("still importing the tenants file", check.GetProperty("description").GetString());
            Assert.InRange(check.GetProperty("data").GetProperty("imported").GetInt32(), 0, count - 1);

            // The import goes on: once the whole file is in, the edge is plainly Healthy.
            Assert.True(await Poll.UntilAsync(async () => (ready = await edgeAdmin.GetAsync("readyz")).Status == 200 && Overall(ready.Body) == "Healthy",
                TimeSpan.FromSeconds(180)), $"edge /readyz: {ready}");
            Assert.Equal(count, JsonDocument.Parse(ready.Body).RootElement.GetProperty("checks").GetProperty("tenants-file")
                .GetProperty("data").GetProperty("imported").GetInt32());
        }
        finally
        {
            _output.WriteLine("--- edge output (last lines) ---\n" + string.Join('\n', edge.Output.Split('\n').TakeLast(40)));
        }
    }

    private KeylessProcess StartEdge(int httpsPort, int siloPort, int originPort, params string[] extra) =>
        StartEdge(httpsPort, siloPort, originPort, new Dictionary<string, string>(), extra);

    private KeylessProcess StartEdge(int httpsPort, int siloPort, int originPort, IReadOnlyDictionary<string, string> environment, params string[] extra)
    {
        var tenants = _files.Write($"tenants-{httpsPort}.json", JsonSerializer.Serialize(new
        {
            tenants = new[] { new { tenant = "shop", hostNames = new[] { Host }, origin = new { host = "127.0.0.1", port = originPort } } },
        }));
        return KeylessProcess.Start(environment, ["edge", "--shared-cluster", "--https-port", $"{httpsPort}", "--silo-port", $"{siloPort}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--tenants", tenants, .. extra]);
    }

    /// <summary>An edge of the shared-cluster layout whose tenants come from <paramref name="tenantsFile"/> alone.</summary>
    private static KeylessProcess StartFileEdge(string tenantsFile, int httpsPort, IReadOnlyDictionary<string, string> environment) =>
        KeylessProcess.Start(environment, "edge", "--shared-cluster", "--https-port", $"{httpsPort}", "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--tenants", tenantsFile);

    /// <summary>The first /readyz answer with 200, as a load balancer polling it would take it.</summary>
    private static async Task<(int Status, string Body)> FirstReadyAsync(AdminEndpoint edge)
    {
        (int Status, string Body) ready = (0, "");
        Assert.True(await Poll.UntilAsync(async () => (ready = await edge.GetAsync("readyz")).Status == 200, TimeSpan.FromSeconds(120)), $"edge /readyz: {ready}");
        return ready;
    }

    /// <summary>The /readyz body's overall status: each check has its own, so a substring would match any of them.</summary>
    private static string? Overall(string readyzBody) => JsonDocument.Parse(readyzBody).RootElement.GetProperty("status").GetString();

    private static Task<ExternalTool.Result> HandshakeAsync(int httpsPort, string caFile, string serverName) => ExternalTool.RunAsync("openssl",
        ["s_client", "-connect", $"127.0.0.1:{httpsPort}", "-servername", serverName, "-CAfile", caFile, "-tls1_3", "-ign_eof"],
        standardInput: $"GET / HTTP/1.1\r\nHost: {serverName}\r\nConnection: close\r\n\r\n");

    public void Dispose()
    {
        _keys.Dispose();
        _ca.Dispose();
        _files.Dispose();
    }
}
