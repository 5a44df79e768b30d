using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using KeylessOrleans.TestSupport;
using Xunit.Abstractions;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// Real processes, as an operator and a tenant run them: `keyless edge` and `keyless keyserver`. Killing the key
/// server (SIGKILL, no goodbye) turns handshakes into a quick internal_error alert, and a restarted key server
/// serves again without anyone touching the edge.
/// </summary>
public sealed class KeyServerCrashTests : IDisposable
{
    private const string Host = "shop.example.test";
    private readonly TempDirectory _files = new("keyless-crash-test");
    private readonly TestCertificateAuthority _ca = new();

    private readonly TenantKeyFolder _keys;
    private readonly ITestOutputHelper _output;

    public KeyServerCrashTests(ITestOutputHelper output)
    {
        _output = output;
        _keys = new TenantKeyFolder(_ca, [Host]);
    }

    [Fact]
    public async Task Killed_key_server_gives_internal_error_within_the_deadline_and_a_restarted_one_serves_again()
    {
        var originPort = KeylessProcess.FreePort();
        var httpsPort = KeylessProcess.FreePort();
        var siloPort = KeylessProcess.FreePort();
        var tenants = _files.Write("tenants.json", JsonSerializer.Serialize(new
        {
            tenants = new[] { new { tenant = "shop", hostNames = new[] { Host }, origin = new { host = "127.0.0.1", port = originPort } } },
        }));
        var caFile = _files.Write("ca.pem", PemEncoding.WriteString("CERTIFICATE", _ca.Certificate.RawData));

        await using var origin = KeylessProcess.Start("origin", "--listen", $"127.0.0.1:{originPort}");
        await using var edge = KeylessProcess.Start("edge", "--shared-cluster", "--https-port", $"{httpsPort}", "--silo-port", $"{siloPort}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--tenants", tenants, "--edge-id", "edge-under-test");
        await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
        // A restarted key server comes back on its own port, as under systemd: Orleans then retires the dead
        // generation at once instead of waiting for missed probes.
        var keyServerPort = KeylessProcess.FreePort();
        var keyServer = StartKeyServer(keyServerPort, siloPort);
        try
        {
            Task<ExternalTool.Result> Handshake() => ExternalTool.RunAsync("openssl",
                ["s_client", "-connect", $"127.0.0.1:{httpsPort}", "-servername", Host, "-CAfile", caFile, "-tls1_3", "-ign_eof"],
                standardInput: $"GET / HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n");

            Assert.Contains("Hello from the KeylessOrleans demo origin", (await UntilServedAsync(Handshake, TimeSpan.FromSeconds(60), edge, keyServer)).Output);

            keyServer.Crash();
            await keyServer.WaitForExitAsync(TimeSpan.FromSeconds(10));

            var clock = Stopwatch.StartNew();
            var during = await Handshake();
            clock.Stop();
            _output.WriteLine($"handshake with the key server killed: alert after {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.Contains("alert number 80", during.All); // internal_error
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2 + 1.5), $"the alert took {clock.Elapsed}");
            Assert.Contains("key_Unavailable", await edge.WaitForLineAsync("key_Unavailable", TimeSpan.FromSeconds(5)));

            await keyServer.DisposeAsync();
            keyServer = StartKeyServer(keyServerPort, siloPort);
            var restarted = Stopwatch.StartNew();
            var after = await UntilServedAsync(Handshake, TimeSpan.FromSeconds(60), edge, keyServer);
            _output.WriteLine($"restarted key server served again after {restarted.Elapsed.TotalMilliseconds:0} ms");
            Assert.Contains("Hello from the KeylessOrleans demo origin", after.Output);
            Assert.True(restarted.Elapsed < TimeSpan.FromSeconds(15), $"serving again took {restarted.Elapsed}");
        }
        finally
        {
            await keyServer.DisposeAsync();
            _output.WriteLine("--- edge output ---\n" + edge.Output);
            _output.WriteLine("--- last key server output ---\n" + keyServer.Output);
        }
    }

    private KeylessProcess StartKeyServer(int siloPort, int edgeSiloPort) =>
        KeylessProcess.Start("keyserver", "--shared-cluster", "--tenant", "shop", "--keys", _keys.Path,
            "--silo-port", $"{siloPort}", "--primary", $"127.0.0.1:{edgeSiloPort}");

    /// <summary>Retries the handshake until it is served; fails at once, with its output, if a process it needs died.</summary>
    private static async Task<ExternalTool.Result> UntilServedAsync(Func<Task<ExternalTool.Result>> handshake, TimeSpan limit, params KeylessProcess[] needed)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var result = await handshake();
            if (result.Output.Contains("HTTP/1.1 200 OK") || clock.Elapsed > limit) return result;
            if (needed.FirstOrDefault(p => p.HasExited) is { } dead)
                throw new InvalidOperationException($"a process exited ({dead.ExitCode}) while waiting to be served:\n{dead.Output}");
            await Task.Delay(250);
        }
    }

    public void Dispose()
    {
        _keys.Dispose();
        _ca.Dispose();
        _files.Dispose();
    }
}
