using System.Diagnostics;
using System.Text.Json;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Xunit.Abstractions;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// The edge's warm-up ends with real key calls (Keyless:Edge:WarmUp:HostNames, KeyCalls): before /readyz says ready it
/// has asked the tenant's key server, in its own cluster over mutual TLS, for possession proofs through the path a
/// handshake's key call takes. The tenant sees each as an audited operation from this edge; a name no tenant serves
/// delays readiness by at most the warm-up's time and is logged, and so does a key server that hangs.
/// </summary>
public sealed class WarmUpKeyCallTests(ITestOutputHelper output) : IDisposable
{
    private const string Host = "www.acme.test";
    private const string Unserved = "www.nobody.test";
    private const int KeyCalls = 30;
    private readonly TempDirectory _files = new("keyless-warm-up-test");
    private readonly ClusterIdentities _operator = new("Operator CA");
    private readonly ClusterIdentities _tenantCa = new("Acme key-server CA");
    private readonly TestCertificateAuthority _web = new();

    [Fact]
    public async Task Before_ready_the_edge_asked_the_tenants_key_server_through_the_handshake_path_and_gave_up_on_an_unserved_name_in_time()
    {
        using var keys = new TenantKeyFolder(_web, [Host]);
        await using var origin = new TestOrigin();
        var (gateway, auditLog) = (KeylessProcess.FreePort(), Path.Combine(_files.Path, "acme-audit.log"));
        await using var keyServer = await StartKeyServerAsync(keys, gateway, auditLog);
        var maxDuration = TimeSpan.FromSeconds(20);
        var clock = Stopwatch.StartNew();
        await using var edge = StartEdge(await TenantsFileAsync(origin.Port, gateway), maxDuration, KeyCalls, Unserved, Host);
        using var edgeAdmin = new AdminEndpoint(edge.AdminPort);
        try
        {
            Assert.True(await Poll.UntilAsync(async () => (await edgeAdmin.GetAsync("readyz")).Status == 200, TimeSpan.FromSeconds(120)),
                $"edge /readyz: {await edgeAdmin.GetAsync("readyz")}");
            var readyAfter = clock.Elapsed;
            // The unserved name held the warm-up until its time was up, no longer (start-up and the silo's join come on top).
            Assert.True(readyAfter < maxDuration + TimeSpan.FromSeconds(60), $"ready {readyAfter.TotalSeconds:0.0} s after start");
            Assert.Contains($"could not call a key server for {Unserved}", edge.Output);

            Assert.Equal(KeyCalls, await WarmUpKeyCallsAsync(edgeAdmin));
            Assert.Contains($"made {KeyCalls} key calls ({KeyCalls} answered) to the key servers of {Unserved}, {Host}", edge.Output);

            // The tenant's audit log has them, from this edge, before any client came: proofs, not signatures of a
            // handshake. (Admitting the chains asked for one proof per chain on top.)
            var proofs = 0;
            Assert.True(await Poll.UntilAsync(() => Task.FromResult((proofs = ProofsFromEdge(auditLog)) >= KeyCalls), TimeSpan.FromSeconds(10)),
                $"{proofs} possession proofs from edge1 in the audit log");
            Assert.DoesNotContain(File.ReadLines(auditLog), line => line.Contains("\"op\":\"sign_"));

            // They are key calls of the edge's, not handshakes.
            var metrics = await edgeAdmin.MetricsAsync();
            Assert.True(AdminEndpoint.Sum(metrics, "keyless_edge_key_calls_total", ("tenant", "acme")) >= KeyCalls, metrics);
            Assert.Equal(0, AdminEndpoint.Sum(metrics, "keyless_edge_handshakes_total"));
        }
        finally
        {
            output.WriteLine("--- edge ---\n" + edge.Output);
            output.WriteLine("--- key server ---\n" + keyServer.Output);
        }
    }

    /// <summary>
    /// The key server hangs (SIGSTOP) while the warm-up's calls are under way: the calls in flight end at the edge's
    /// key-call timeout, the replica's circuit then fails the rest at once, and the edge becomes ready well within the
    /// warm-up's time, saying how many calls went unanswered.
    /// </summary>
    [Fact]
    public async Task A_key_server_that_hangs_during_the_warm_ups_key_calls_holds_readiness_only_until_its_calls_time_out()
    {
        using var keys = new TenantKeyFolder(_web, [Host]);
        await using var origin = new TestOrigin();
        var (gateway, auditLog) = (KeylessProcess.FreePort(), Path.Combine(_files.Path, "acme-audit.log"));
        // Every operation takes 1 s (within the edge's 2 s key-call timeout): the warm-up's calls are slow enough to be
        // caught under way.
        await using var keyServer = await StartKeyServerAsync(keys, gateway, auditLog, new() { ["KEYLESS__KEYSERVER__DRILLDELAY"] = "00:00:01" });
        var maxDuration = TimeSpan.FromSeconds(60);
        const int calls = 60;
        await using var edge = StartEdge(await TenantsFileAsync(origin.Port, gateway), maxDuration, calls, Host);
        using var edgeAdmin = new AdminEndpoint(edge.AdminPort);
        try
        {
            // One proof admitted each of the two chains; more are the warm-up's own calls, answered: it is under way.
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(ProofsFromEdge(auditLog) > 2), TimeSpan.FromSeconds(120)),
                $"no warm-up key call answered\n{edge.Output}\n{keyServer.Output}");
            keyServer.Freeze();
            var frozen = Stopwatch.StartNew();
            try
            {
                Assert.True(await Poll.UntilAsync(async () => (await edgeAdmin.GetAsync("readyz")).Status == 200, maxDuration),
                    $"edge /readyz {frozen.Elapsed.TotalSeconds:0} s after the key server hung: {await edgeAdmin.GetAsync("readyz")}");
                // The calls in flight wait out one timeout (2 s), three failures open the circuit, the rest fail at once.
                Assert.True(frozen.Elapsed < TimeSpan.FromSeconds(15), $"ready {frozen.Elapsed.TotalSeconds:0.0} s after the key server hung");

                var answered = await WarmUpKeyCallsAsync(edgeAdmin);
                Assert.InRange(answered, 1, calls - 1);
                Assert.Contains($"made {calls} key calls ({answered} answered)", edge.Output);
                Assert.Contains($"{calls - answered} of the warm-up's {calls} key calls failed", edge.Output);
                Assert.Contains("unavailable: no answer within 2000 ms", edge.Output);
            }
            finally
            {
                keyServer.Thaw();
            }
        }
        finally
        {
            output.WriteLine("--- edge ---\n" + edge.Output);
            output.WriteLine("--- key server ---\n" + keyServer.Output);
        }
    }

    /// <summary>The tenant's key server in its own cluster, mutual TLS, edges of the operator's CA; returned once ready.</summary>
    private async Task<KeylessProcess> StartKeyServerAsync(TenantKeyFolder keys, int gateway, string auditLog, Dictionary<string, string>? environment = null)
    {
        var identity = _tenantCa.Issue(SiloIdentity.OnPrem("acme", "primary"));
        var keyServer = KeylessProcess.Start(environment ?? new Dictionary<string, string>(), "keyserver", "--tenant", "acme", "--keys", keys.Path, "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{gateway}", "--audit-log", auditLog,
            "--tls-cert", identity.Certificate, "--tls-key", identity.Key, "--tls-ca", _tenantCa.CaFile, "--edge-ca", _operator.CaFile);
        using var admin = new AdminEndpoint(keyServer.AdminPort);
        if (!await Poll.UntilAsync(async () => (await admin.GetAsync("readyz")).Status == 200, TimeSpan.FromSeconds(60)))
        {
            var problem = $"key server /readyz: {await admin.GetAsync("readyz")}\n{keyServer.Output}";
            await keyServer.DisposeAsync();
            Assert.Fail(problem);
        }
        return keyServer;
    }

    private async Task<string> TenantsFileAsync(int originPort, int gateway) => _files.Write("tenants.json", JsonSerializer.Serialize(new
    {
        tenants = new[]
        {
            new
            {
                tenant = "acme",
                hostNames = new[] { Host },
                origin = new { host = "127.0.0.1", port = originPort },
                keyServers = new[] { new { replica = "primary", gateway = $"127.0.0.1:{gateway}" } },
                keyServerCa = await File.ReadAllTextAsync(_tenantCa.CaFile),
            },
        },
    }));

    /// <summary>Edge "edge1" with its warm-up on: one round of in-memory handshakes, then <paramref name="keyCalls"/> key calls to <paramref name="hostNames"/>.</summary>
    private KeylessProcess StartEdge(string tenants, TimeSpan maxDuration, int keyCalls, params string[] hostNames)
    {
        var identity = _operator.Issue(SiloIdentity.Edge("edge1"));
        var environment = new Dictionary<string, string>
        {
            [KeylessProcess.WarmUpVariable] = "true",
            ["KEYLESS__EDGE__WARMUP__MINROUNDS"] = "1",
            ["KEYLESS__EDGE__WARMUP__SETTLEDMETHODS"] = "1000000", // one round of in-memory handshakes; the key calls are the test
            ["KEYLESS__EDGE__WARMUP__MAXDURATION"] = $"{maxDuration}",
            ["KEYLESS__EDGE__WARMUP__KEYCALLS"] = $"{keyCalls}",
        };
        for (var i = 0; i < hostNames.Length; i++) environment[$"KEYLESS__EDGE__WARMUP__HOSTNAMES__{i}"] = hostNames[i];
        return KeylessProcess.Start(environment, "edge", "--https-port", $"{KeylessProcess.FreePort()}", "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--tenants", tenants, "--edge-id", "edge1",
            "--tls-cert", identity.Certificate, "--tls-key", identity.Key, "--tls-ca", _operator.CaFile);
    }

    /// <summary>What the edge's /readyz reports as the warm-up's answered key calls.</summary>
    private static async Task<int> WarmUpKeyCallsAsync(AdminEndpoint edge) =>
        JsonDocument.Parse((await edge.GetAsync("readyz")).Body).RootElement
            .GetProperty("checks").GetProperty("edge").GetProperty("data").GetProperty("warm_up_key_calls").GetInt32();

    /// <summary>Possession proofs asked by edge1, in the tenant's audit log so far.</summary>
    private static int ProofsFromEdge(string auditLog) =>
        File.Exists(auditLog)
            ? File.ReadLines(auditLog).Count(line => line.Contains($"\"op\":\"{ProvePossessionRequest.OperationName}\"") && line.Contains("\"edge1\""))
            : 0;

    public void Dispose()
    {
        _web.Dispose();
        _tenantCa.Dispose();
        _operator.Dispose();
        _files.Dispose();
    }
}
