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

            // The demo's ECDSA certificate carries DelegationUsage: NSS gets a delegated credential once the edge has one.
            using var nss = await NssClient.CreateAsync(await File.ReadAllTextAsync(Path.Combine(_data.Path, "ca.pem")));
            Assert.True(await Poll.UntilAsync(async () =>
                (await nss.GetAsync(httpsPort, "demo.localhost", delegatedCredentials: true)).All.Contains("Received a Delegated Credential"),
                TimeSpan.FromSeconds(20)), "no delegated credential from the demo edge");

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
