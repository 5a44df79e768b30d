using System.Text.Json;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>A single-machine edge keeps the registry in files: killed outright, it comes back with the tenants it had.</summary>
public sealed class RegistryRestartTests : IDisposable
{
    private readonly TempDirectory _files = new("keyless-registry-restart");

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task An_edge_killed_with_sigkill_restarts_with_the_tenants_it_had_without_its_tenants_file()
    {
        var environment = new Dictionary<string, string> { ["KEYLESS__CLUSTER__REGISTRYDIRECTORY"] = Path.Combine(_files.Path, "registry") };
        var tenants = _files.Write("tenants.json", JsonSerializer.Serialize(new
        {
            tenants = new[] { new { tenant = "shop", hostNames = new[] { "shop.example.test" }, origin = new { host = "127.0.0.1", port = 9 } } },
        }));

        await using (var first = KeylessProcess.Start(environment, [.. EdgeArguments(KeylessProcess.FreePort()), "--tenants", tenants]))
        {
            await first.WaitForLineAsync("Tenant shop imported", TimeSpan.FromSeconds(60));
            first.Crash();
            Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        var gateway = KeylessProcess.FreePort();
        await using var second = KeylessProcess.Start(environment, EdgeArguments(gateway));
        await second.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
        var listed = "";
        Assert.True(await Poll.UntilAsync(async () =>
        {
            var (exitCode, output) = await KeylessProcess.RunToEndAsync("tenant", "list", "--gateway-port", $"{gateway}");
            listed = output;
            return exitCode == 0;
        }, TimeSpan.FromSeconds(30)), listed);
        Assert.Contains("shop", listed);
        Assert.Contains("shop.example.test", listed);
        Assert.DoesNotContain("Tenant shop imported", second.Output);
    }

    private static string[] EdgeArguments(int gateway) =>
        ["edge", "--https-port", $"{KeylessProcess.FreePort()}", "--silo-port", $"{KeylessProcess.FreePort()}", "--gateway-port", $"{gateway}", "--edge-id", "edge-restart"];
}
