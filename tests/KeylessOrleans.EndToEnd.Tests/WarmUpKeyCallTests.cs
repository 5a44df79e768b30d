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
/// delays readiness by at most the warm-up's time and is logged.
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
        var gateway = KeylessProcess.FreePort();
        var auditLog = Path.Combine(_files.Path, "acme-audit.log");
        var keyServerIdentity = _tenantCa.Issue(SiloIdentity.OnPrem("acme", "primary"));
        await using var keyServer = KeylessProcess.Start("keyserver", "--tenant", "acme", "--keys", keys.Path, "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{gateway}", "--audit-log", auditLog,
            "--tls-cert", keyServerIdentity.Certificate, "--tls-key", keyServerIdentity.Key, "--tls-ca", _tenantCa.CaFile, "--edge-ca", _operator.CaFile);
        using var keyServerAdmin = new AdminEndpoint(keyServer.AdminPort);
        Assert.True(await Poll.UntilAsync(async () => (await keyServerAdmin.GetAsync("readyz")).Status == 200, TimeSpan.FromSeconds(60)),
            $"key server /readyz: {await keyServerAdmin.GetAsync("readyz")}\n{keyServer.Output}");

        var tenants = _files.Write("tenants.json", JsonSerializer.Serialize(new
        {
            tenants = new[]
            {
                new
                {
                    tenant = "acme",
                    hostNames = new[] { Host },
                    origin = new { host = "127.0.0.1", port = origin.Port },
                    keyServers = new[] { new { replica = "primary", gateway = $"127.0.0.1:{gateway}" } },
                    keyServerCa = await File.ReadAllTextAsync(_tenantCa.CaFile),
                },
            },
        }));
        var edgeIdentity = _operator.Issue(SiloIdentity.Edge("edge1"));
        var maxDuration = TimeSpan.FromSeconds(20);
        var clock = Stopwatch.StartNew();
        await using var edge = KeylessProcess.Start(new Dictionary<string, string>
        {
            [KeylessProcess.WarmUpVariable] = "true",
            ["KEYLESS__EDGE__WARMUP__MINROUNDS"] = "1",
            ["KEYLESS__EDGE__WARMUP__SETTLEDMETHODS"] = "1000000", // one round of in-memory handshakes; the key calls are the test
            ["KEYLESS__EDGE__WARMUP__MAXDURATION"] = $"{maxDuration}",
            ["KEYLESS__EDGE__WARMUP__KEYCALLS"] = $"{KeyCalls}",
            ["KEYLESS__EDGE__WARMUP__HOSTNAMES__0"] = Unserved,
            ["KEYLESS__EDGE__WARMUP__HOSTNAMES__1"] = Host,
        }, "edge", "--https-port", $"{KeylessProcess.FreePort()}", "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--tenants", tenants, "--edge-id", "edge1",
            "--tls-cert", edgeIdentity.Certificate, "--tls-key", edgeIdentity.Key, "--tls-ca", _operator.CaFile);
        using var edgeAdmin = new AdminEndpoint(edge.AdminPort);
        try
        {
            Assert.True(await Poll.UntilAsync(async () => (await edgeAdmin.GetAsync("readyz")).Status == 200, TimeSpan.FromSeconds(120)),
                $"edge /readyz: {await edgeAdmin.GetAsync("readyz")}");
            var readyAfter = clock.Elapsed;
            // The unserved name held the warm-up until its time was up, no longer (start-up and the silo's join come on top).
            Assert.True(readyAfter < maxDuration + TimeSpan.FromSeconds(60), $"ready {readyAfter.TotalSeconds:0.0} s after start");
            Assert.Contains($"could not call a key server for {Unserved}", edge.Output);

            var check = JsonDocument.Parse((await edgeAdmin.GetAsync("readyz")).Body).RootElement.GetProperty("checks").GetProperty("edge").GetProperty("data");
            Assert.Equal(KeyCalls, check.GetProperty("warm_up_key_calls").GetInt32());
            Assert.Contains($"made {KeyCalls} key calls ({KeyCalls} answered) to the key servers of {Unserved}, {Host}", edge.Output);

            // The tenant's audit log has them, from this edge, before any client came: proofs, not signatures of a
            // handshake. (Admitting the chains asked for one proof per chain on top.)
            var proofs = 0;
            Assert.True(await Poll.UntilAsync(() =>
            {
                proofs = File.ReadLines(auditLog).Count(line => line.Contains($"\"op\":\"{ProvePossessionRequest.OperationName}\"") && line.Contains("\"edge1\""));
                return Task.FromResult(proofs >= KeyCalls);
            }, TimeSpan.FromSeconds(10)), $"{proofs} possession proofs from edge1 in the audit log");
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

    public void Dispose()
    {
        _web.Dispose();
        _tenantCa.Dispose();
        _operator.Dispose();
        _files.Dispose();
    }
}
