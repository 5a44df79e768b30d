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
            pids = ChildPids().Matches(ready).Select(m => int.Parse(m.Groups[1].Value)).ToArray();
            Assert.Equal(2, pids.Length);
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

    public void Dispose() => _data.Dispose();
}
