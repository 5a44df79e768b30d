namespace KeylessOrleans.TestSupport;

/// <summary>
/// Headless Chromium (Debian chromium) with a throwaway HOME whose NSS database (~/.pki/nssdb) trusts only the given
/// CA, and a throwaway profile. Every host name resolves to 127.0.0.1 and background networking is off, so the
/// browser sends nothing beyond loopback. Each load is one process (killed by PID tree if it overruns).
/// </summary>
public sealed class ChromiumHeadless : IDisposable
{
    private readonly TempDirectory _home = new("keyless-chromium");

    private ChromiumHeadless()
    {
    }

    /// <param name="caPem">The one CA to trust, as PEM.</param>
    public static async Task<ChromiumHeadless> CreateAsync(string caPem)
    {
        var chromium = new ChromiumHeadless();
        var nssdb = Path.Combine(chromium._home.Path, ".pki", "nssdb");
        Directory.CreateDirectory(nssdb);
        var ca = chromium._home.Write("ca.pem", caPem);
        foreach (var step in new[] { new[] { "-N", "-d", $"sql:{nssdb}", "--empty-password" }, ["-A", "-d", $"sql:{nssdb}", "-n", "keyless-test-ca", "-t", "C,,", "-i", ca] })
        {
            var result = await ExternalTool.RunAsync("certutil", step);
            if (result.ExitCode != 0) throw new InvalidOperationException($"certutil failed: {result.All}");
        }
        return chromium;
    }

    /// <summary>Loads <paramref name="url"/> and returns the page's DOM as Chromium printed it (empty when the load failed).</summary>
    public async Task<ExternalTool.Result> DumpDomAsync(string url) =>
        await ExternalTool.RunAsync("chromium",
            ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--host-resolver-rules=MAP * 127.0.0.1", $"--user-data-dir={Path.Combine(_home.Path, "profile")}",
             "--dump-dom", url],
            timeout: TimeSpan.FromSeconds(90),
            environment: new Dictionary<string, string> { ["HOME"] = _home.Path });

    public void Dispose() => _home.Dispose();
}
