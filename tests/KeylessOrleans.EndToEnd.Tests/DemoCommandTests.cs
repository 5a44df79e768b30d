using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>The README's "run it" command, as a newcomer runs it: one process that brings up the whole system.</summary>
public sealed partial class DemoCommandTests : IDisposable
{
    private readonly TempDirectory _data = new("keyless-demo-test");

    [Fact]
    public async Task Demo_serves_curl_over_keyless_tls_stops_cleanly_on_sigterm_and_reuses_its_data()
    {
        var httpsPort = KeylessProcess.FreePort();
        int[] pids;
        await using (var demo = StartDemo(httpsPort))
        {
            var ready = await demo.WaitForLineAsync("KeylessOrleans demo ready", TimeSpan.FromSeconds(120));
            Assert.Contains("created a demo CA", demo.Output);
            AssertNoOrleansNotes(demo.Output);
            pids = ChildPids().Matches(ready).Select(m => int.Parse(m.Groups[1].Value)).ToArray();
            Assert.Equal(2, pids.Length);
            // Edge and key server run with the JIT tiering the deployments set (docs/operations.md, "Start-up").
            Assert.All(pids, pid => Assert.Contains("DOTNET_TC_CallCountingDelayMs=0", File.ReadAllText($"/proc/{pid}/environ").Split('\0')));
            var curlLine = await demo.WaitForLineAsync("curl --cacert", TimeSpan.FromSeconds(5));

            foreach (var version in new[] { "--tlsv1.3", "--tls-max 1.2" })
            {
                var arguments = curlLine.Trim()["curl ".Length..].Split(' ').Concat(["-sS", "-w", "\n%{http_code}"]).Concat(version.Split(' '));
                var result = await ExternalTool.RunAsync("curl", arguments);
                Assert.True(result.ExitCode == 0, result.All);
                Assert.Contains("Hello from the KeylessOrleans demo origin", result.Output);
                Assert.EndsWith("200", result.Output.Trim());
            }

            // gnutls-cli sends close_notify as soon as its input ends, right behind the request: the response still comes.
            var halfClosed = await ExternalTool.RunAsync("gnutls-cli",
                ["--x509cafile", Path.Combine(_data.Path, "ca.pem"), "-p", $"{httpsPort}", "--sni-hostname", "demo.localhost",
                 "--verify-hostname", "demo.localhost", "127.0.0.1"],
                standardInput: "GET / HTTP/1.1\r\nHost: demo.localhost\r\n\r\n");
            Assert.True(halfClosed.ExitCode == 0, halfClosed.All);
            Assert.Contains("Hello from the KeylessOrleans demo origin", halfClosed.Output);

            await Delegated_credentials_reach_nss_and_firefox_without_a_key_server_signature(demo.Output, httpsPort);

            var clock = Stopwatch.StartNew();
            demo.Signal(PosixSignal.SIGTERM);
            Assert.True(await demo.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"demo did not stop:\n{demo.Output}");
            Assert.Equal(0, demo.ExitCode);
            Assert.Contains("demo: stopped", demo.Output);
            Assert.All(pids, pid => Assert.False(KeylessProcess.IsRunning(pid), $"child {pid} still runs"));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30));
        }

        await using var second = StartDemo(httpsPort);
        await second.WaitForLineAsync("KeylessOrleans demo ready", TimeSpan.FromSeconds(120));
        Assert.Contains("reusing the keys", second.Output);
    }

    /// <summary>
    /// `kill -9` of the key server is an outage the user can watch: the demo says so in one line and restarts it, the
    /// edge answers the tenant's handshakes with internal_error meanwhile, and serves them again once it is back.
    /// </summary>
    [Fact]
    public async Task Killed_key_server_is_restarted_and_handshakes_get_internal_error_until_it_is_back()
    {
        var httpsPort = KeylessProcess.FreePort();
        await using var demo = StartDemo(httpsPort);
        var ready = await demo.WaitForLineAsync("KeylessOrleans demo ready", TimeSpan.FromSeconds(120));
        AssertNoOrleansNotes(demo.Output);
        var keyServer = int.Parse(KeyServerPid().Match(ready).Groups[1].Value);
        Task<ExternalTool.Result> Handshake() => ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", $"127.0.0.1:{httpsPort}", "-servername", "demo.localhost", "-CAfile", Path.Combine(_data.Path, "ca.pem"),
             "-tls1_3", "-ign_eof"],
            standardInput: "GET / HTTP/1.1\r\nHost: demo.localhost\r\nConnection: close\r\n\r\n");
        Assert.Contains("Hello from the KeylessOrleans demo origin", (await Handshake()).Output);

        KeylessProcess.Kill(keyServer);

        var outage = await demo.WaitForLineAsync("demo: key server exited", TimeSpan.FromSeconds(30));
        Assert.EndsWith("demo: key server exited (code 137): handshakes for demo.localhost get internal_error until it is back; restarting in 1 s", outage);
        var during = await Handshake();
        Assert.Contains("alert number 80", during.All); // internal_error
        var restarted = await demo.WaitForLineAsync("demo: key server restarted", TimeSpan.FromSeconds(30));
        Assert.NotEqual(keyServer, int.Parse(KeyServerPid().Match(restarted).Groups[1].Value));
        Assert.True(await Poll.UntilAsync(async () => (await Handshake()).Output.Contains("Hello from the KeylessOrleans demo origin"), TimeSpan.FromSeconds(90)),
            $"not served again after the restart:\n{demo.Output}");
        await demo.WaitForLineAsync("handshakes for demo.localhost succeed again", TimeSpan.FromSeconds(30));
        Assert.False(demo.HasExited);
        Assert.False(KeylessProcess.IsRunning(keyServer));

        // Exiting again soon after a restart is a crash loop: the wait doubles.
        KeylessProcess.Kill(int.Parse(KeyServerPid().Match(restarted).Groups[1].Value));
        await demo.WaitForLineAsync("restarting in 2 s", TimeSpan.FromSeconds(30));
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(demo.Output.Split('\n').Count(l => l.Contains("succeed again")) == 2), TimeSpan.FromSeconds(90)),
            $"not served again after the second restart:\n{demo.Output}");
        Assert.False(demo.HasExited);
        AssertNoOrleansNotes(demo.Output);
    }

    /// <summary>
    /// The README's command, stopped as `timeout` stops it (SIGTERM to `dotnet run`) or killed outright: the demo and
    /// all of its processes end either way.
    /// </summary>
    [Theory]
    [InlineData("SIGTERM")]
    [InlineData("SIGKILL")]
    public async Task Dotnet_run_stopped_or_killed_ends_the_demo_and_its_children(string signal)
    {
        var binary = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')); // tests/X/bin/CONFIGURATION/TFM
        var repository = binary;
        while (!File.Exists(Path.Combine(repository.FullName, "KeylessOrleans.sln"))) repository = repository.Parent!;
        var siloPort = KeylessProcess.FreePortRange(2);
        await using var run = KeylessProcess.StartProgram("dotnet",
            ["run", "--no-build", "--no-launch-profile", "-c", binary.Parent!.Name, "--project", Path.Combine(repository.FullName, "src", "KeylessOrleans.Cli"), "--",
             "demo", "--https-port", $"{KeylessProcess.FreePort()}", "--data-dir", _data.Path, "--silo-port", $"{siloPort}", "--gateway-port", $"{KeylessProcess.FreePort()}"],
            environment: null);
        await run.WaitForLineAsync("KeylessOrleans demo ready", TimeSpan.FromSeconds(180));
        var processes = KeylessDescendants(run.Id);
        Assert.True(processes.Count == 4, $"expected the demo and its three processes below dotnet run: {string.Join(", ", processes.Select(CommandLine))}");

        if (signal == "SIGTERM") KeylessProcess.Terminate(run.Id);
        else KeylessProcess.Kill(run.Id);

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(!processes.Any(Alive)), TimeSpan.FromSeconds(40)),
            $"still running 40 s after {signal} to dotnet run: {string.Join(", ", processes.Where(Alive))}\n{run.Output}");
        if (signal == "SIGKILL") Assert.Contains("demo: the process that started the demo", run.Output);
    }

    /// <summary>SIGKILL of the demo leaves nothing behind: its processes notice and stop on their own.</summary>
    [Fact]
    public async Task Killed_demo_leaves_no_process_behind()
    {
        await using var demo = StartDemo(KeylessProcess.FreePort());
        await demo.WaitForLineAsync("KeylessOrleans demo ready", TimeSpan.FromSeconds(120));
        var children = KeylessDescendants(demo.Id);
        Assert.Equal(3, children.Count);

        demo.Crash();

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(!children.Any(Alive)), TimeSpan.FromSeconds(40)),
            $"still running 40 s after the demo was killed: {string.Join(", ", children.Where(Alive))}");
    }

    /// <summary>Orleans' notes a newcomer cannot act on stay out of the demo's console.</summary>
    private static void AssertNoOrleansNotes(string output)
    {
        Assert.DoesNotContain("ServerGC", output);
        Assert.DoesNotContain("Participant check thread", output);
        Assert.DoesNotContain("ConnectionRefused", output);
        Assert.DoesNotContain("Connection reset by peer", output);
    }

    /// <summary>The keyless processes below <paramref name="root"/> now, at any depth (from /proc).</summary>
    private static List<int> KeylessDescendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(folder, "stat"));
                parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
            }
            catch (IOException)
            {
                // It exited while the folder was read.
            }
        }
        var found = new List<int>();
        var below = new Queue<int>([root]);
        while (below.TryDequeue(out var parent))
            foreach (var (pid, _) in parents.Where(p => p.Value == parent))
            {
                below.Enqueue(pid);
                if (CommandLine(pid).Contains("keyless", StringComparison.Ordinal)) found.Add(pid);
            }
        return found;
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Running: its /proc entry exists and it is not a zombie waiting for a parent to reap it.</summary>
    private static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// The demo's ECDSA certificate carries DelegationUsage: NSS gets a delegated credential once the edge has one, and
    /// then Firefox ESR loads the page through it while the key server signs no CertificateVerify (its own metric).
    /// </summary>
    private async Task Delegated_credentials_reach_nss_and_firefox_without_a_key_server_signature(string demoOutput, int httpsPort)
    {
        var caPem = await File.ReadAllTextAsync(Path.Combine(_data.Path, "ca.pem"));
        using var nss = await NssClient.CreateAsync(caPem);
        Assert.True(await Poll.UntilAsync(async () =>
            (await nss.GetAsync(httpsPort, "demo.localhost", delegatedCredentials: true)).All.Contains("Received a Delegated Credential"),
            TimeSpan.FromSeconds(20)), "no delegated credential from the demo edge");

        var ports = AdminPorts().Match(demoOutput);
        Assert.True(ports.Success, demoOutput);
        using var edgeAdmin = new AdminEndpoint(int.Parse(ports.Groups["edge"].Value));
        using var keyServerAdmin = new AdminEndpoint(int.Parse(ports.Groups["keyserver"].Value));
        async Task<(double Delegated, double Signatures)> CountsAsync() => (
            AdminEndpoint.Sum(await edgeAdmin.MetricsAsync(), "keyless_edge_handshakes_total", ("delegated", "true"), ("outcome", "ok")),
            AdminEndpoint.Sum(await keyServerAdmin.MetricsAsync(), "keyless_keyserver_operations_total", ("operation", "sign_certificate_verify")));
        var before = await CountsAsync();

        using var firefox = await FirefoxHeadless.CreateAsync(caPem);
        var (loaded, result) = await firefox.LoadAsync($"https://demo.localhost:{httpsPort}/");

        Assert.True(loaded, result.All);
        var after = await CountsAsync();
        Assert.True(after.Delegated > before.Delegated, $"Firefox was not served through a delegated credential ({before} → {after})");
        Assert.Equal(before.Signatures, after.Signatures);
    }

    [GeneratedRegex(@"edge http://127\.0\.0\.1:(?<edge>\d+)/metrics.*key server http://127\.0\.0\.1:(?<keyserver>\d+)/metrics")]
    private static partial Regex AdminPorts();

    private KeylessProcess StartDemo(int httpsPort)
    {
        var siloPort = KeylessProcess.FreePortRange(2); // the demo's key server takes the next port
        return KeylessProcess.Start("demo", "--https-port", $"{httpsPort}", "--data-dir", _data.Path,
            "--silo-port", $"{siloPort}", "--gateway-port", $"{KeylessProcess.FreePort()}");
    }

    [GeneratedRegex(@"pid (\d+)")]
    private static partial Regex ChildPids();

    [GeneratedRegex(@"key server (?:restarted \()?pid (\d+)")]
    private static partial Regex KeyServerPid();

    public void Dispose() => _data.Dispose();
}
