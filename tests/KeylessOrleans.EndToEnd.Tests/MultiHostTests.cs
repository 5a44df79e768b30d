using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.TestSupport;
using Xunit.Abstractions;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// deploy/local/run.sh as an operator runs it, in the federated shape: Redis and two edges (the operator's cluster,
/// mutual TLS from the operator's CA) and the demo tenant's key server as a cluster of its own (the tenant's CA),
/// reached by the edges at its gateway. Then what operators and tenants do to it while it runs.
/// </summary>
public sealed class MultiHostTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _state = new("keyless-local-test");
    private readonly TestCertificateAuthority _ca = new();

    [Fact]
    public async Task Two_edges_on_redis_serve_survive_an_edge_crash_onboard_and_remove_tenants_and_keep_the_registry()
    {
        var total = Stopwatch.StartNew();
        void Step(string what) => output.WriteLine($"[{total.Elapsed.TotalSeconds,6:0.0} s] {what}");
        var basePort = KeylessProcess.FreePortRange(13); // run.sh uses base..base+12
        int redisPort = basePort, edge1Silo = basePort + 1, edge1Gateway = basePort + 2, edge1Https = basePort + 3, edge2Https = basePort + 6, originPort = basePort + 8,
            keyServerGateway = basePort + 12;
        var redis = $"127.0.0.1:{redisPort}";
        var script = Path.Combine(RepositoryRoot(), "deploy", "local", "run.sh");
        await using var deployment = KeylessProcess.StartProgram("bash", [script], new Dictionary<string, string>
        {
            ["KEYLESS_BIN"] = Path.Combine(AppContext.BaseDirectory, "keyless.dll"),
            ["KEYLESS_LOCAL_STATE"] = _state.Path,
            ["KEYLESS_LOCAL_BASE_PORT"] = $"{basePort}",
        });
        await deployment.WaitForLineAsync("local deployment ready", TimeSpan.FromSeconds(180));
        Step("deployment ready");
        var demoCa = Path.Combine(_state.Path, "data", "ca.pem");
        var pki = Path.Combine(_state.Path, "pki");
        var operatorCa = Path.Combine(pki, "operator-ca", "ca.pem");
        // The operator's tools connect with the operator certificate run.sh issued; the cluster refuses them without.
        string[] Operator(params string[] command) =>
            [.. command, "--clustering", "redis", "--redis", redis, "--tls-cert", Path.Combine(pki, "operator", "cert.pem"),
             "--tls-key", Path.Combine(pki, "operator", "key.pem"), "--tls-ca", operatorCa];

        // The tenant's key server is its own cluster: not a member of the edges' cluster, recorded with its gateway and CA.
        var shown = await KeylessProcess.RunToEndAsync(Operator("tenant", "show", "demo"));
        Assert.True(shown.ExitCode == 0, shown.Output);
        Assert.Contains($"key servers: primary=127.0.0.1:{keyServerGateway} (own cluster, mutual TLS)", shown.Output);
        var plaintext = await KeylessProcess.RunToEndAsync("tenant", "list", "--clustering", "redis", "--redis", redis);
        Assert.NotEqual(0, plaintext.ExitCode); // the operator's cluster speaks mutual TLS only

        // Both edges serve the demo tenant.
        foreach (var port in new[] { edge1Https, edge2Https })
            Assert.Contains("Hello from the KeylessOrleans demo origin", (await ExternalTool.CurlAsync("demo.localhost", port, demoCa)).Output);

        // A second tenant is onboarded while everything runs: its key server starts as a cluster of its own (its own
        // CA, the operator's CA for edges at its gateway), the operator adds it with that gateway and CA.
        using var globexKeys = new TenantKeyFolder(_ca, ["globex.test"]);
        var globexCa = _state.Write("globex-ca.pem", System.Security.Cryptography.PemEncoding.WriteString("CERTIFICATE", _ca.Certificate.RawData));
        using var globexClusterCa = new ClusterIdentities("globex key server CA");
        var (globexCert, globexKey) = globexClusterCa.Issue(SiloIdentity.OnPrem("globex", "primary"));
        var globexGateway = KeylessProcess.FreePort();
        await using var globexKeyServer = KeylessProcess.Start("keyserver", "--tenant", "globex", "--keys", globexKeys.Path,
            "--silo-port", $"{KeylessProcess.FreePort()}", "--gateway-port", $"{globexGateway}", "--admin-port", "0",
            "--tls-cert", globexCert, "--tls-key", globexKey, "--tls-ca", globexClusterCa.CaFile, "--edge-ca", operatorCa);
        await globexKeyServer.WaitForLineAsync("Loaded 2 keys", TimeSpan.FromSeconds(60));
        Step("globex key server up");
        var added = await KeylessProcess.RunToEndAsync(Operator("tenant", "add", "globex", "--host", "globex.test", "--origin", $"127.0.0.1:{originPort}",
            "--key-server", $"primary=127.0.0.1:{globexGateway}", "--key-server-ca", globexClusterCa.CaFile));
        Assert.True(added.ExitCode == 0, added.Output);
        var addClock = Stopwatch.StartNew();
        Assert.True(await Poll.UntilAsync(async () => (await ExternalTool.CurlAsync("globex.test", edge1Https, globexCa)).ExitCode == 0
            && (await ExternalTool.CurlAsync("globex.test", edge2Https, globexCa)).ExitCode == 0, TimeSpan.FromSeconds(60)));
        output.WriteLine($"tenant addition reached both edges after {addClock.ElapsedMilliseconds} ms");

        var listed = await KeylessProcess.RunToEndAsync(Operator("tenant", "list"));
        Assert.Contains("globex", listed.Output);
        Assert.Contains("demo", listed.Output);

        Step("globex served");
        // ...and removed: both edges stop serving its name.
        var removed = await KeylessProcess.RunToEndAsync(Operator("tenant", "remove", "globex"));
        Assert.True(removed.ExitCode == 0, removed.Output);
        var removeClock = Stopwatch.StartNew();
        Assert.True(await Poll.UntilAsync(async () => (await ExternalTool.CurlAsync("globex.test", edge1Https, globexCa)).ExitCode != 0
            && (await ExternalTool.CurlAsync("globex.test", edge2Https, globexCa)).ExitCode != 0, TimeSpan.FromSeconds(60)));
        output.WriteLine($"tenant removal reached both edges after {removeClock.ElapsedMilliseconds} ms");

        Step("globex removed");
        // An edge crashes: the other keeps serving, every request.
        var edge1Pid = int.Parse(File.ReadAllText(Path.Combine(_state.Path, "pids", "edge1.pid")).Trim());
        Process.GetProcessById(edge1Pid).Kill();
        for (var i = 0; i < 10; i++)
        {
            var result = await ExternalTool.CurlAsync("demo.localhost", edge2Https, demoCa);
            Assert.True(result.ExitCode == 0, $"request {i} through the surviving edge failed:\n{result.All}");
        }

        // The other edge is stopped too, so no registry activation is left; an edge started again (on the crashed
        // edge's silo port, as a supervisor restarts it) reads the registry back from Redis and serves.
        Step("edge1 killed, edge2 served 10 requests");
        var edge2Pid = int.Parse(File.ReadAllText(Path.Combine(_state.Path, "pids", "edge2.pid")).Trim());
        KeylessProcess.Terminate(edge2Pid);
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(!KeylessProcess.IsRunning(edge2Pid)), TimeSpan.FromSeconds(30)));
        Step("edge2 stopped");
        await using var restarted = KeylessProcess.Start("edge", "--clustering", "redis", "--redis", redis, "--advertise", "127.0.0.1",
            "--silo-port", $"{edge1Silo}", "--gateway-port", $"{edge1Gateway}", "--https-port", $"{edge1Https}", "--edge-id", "edge1", "--admin-port", "0",
            "--tls-cert", Path.Combine(pki, "edge1", "cert.pem"), "--tls-key", Path.Combine(pki, "edge1", "key.pem"), "--tls-ca", operatorCa);
        var restartClock = Stopwatch.StartNew();
        Assert.True(await Poll.UntilAsync(async () => (await ExternalTool.CurlAsync("demo.localhost", edge1Https, demoCa)).ExitCode == 0, TimeSpan.FromSeconds(90)));
        output.WriteLine($"a restarted edge served the tenant from the Redis-stored registry after {restartClock.ElapsedMilliseconds} ms");
        Assert.DoesNotContain("globex", (await KeylessProcess.RunToEndAsync(Operator("tenant", "list"))).Output);

        Step("restarted edge serves");
        // Silos leave while Redis is still there: the test's own processes first, then the deployment.
        await restarted.DisposeAsync();
        await globexKeyServer.DisposeAsync();
        deployment.Signal(PosixSignal.SIGTERM);
        Assert.True(await deployment.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the local deployment did not stop");
        Step("deployment stopped");
        foreach (var pidFile in Directory.EnumerateFiles(Path.Combine(_state.Path, "pids")))
            Assert.False(KeylessProcess.IsRunning(int.Parse(File.ReadAllText(pidFile).Trim())), $"{Path.GetFileName(pidFile)} still runs");
    }


    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "KeylessOrleans.sln"))) return directory.FullName;
        throw new DirectoryNotFoundException("repository root not found above the test assembly");
    }

    public void Dispose()
    {
        _ca.Dispose();
        _state.Dispose();
    }
}
