using System.Security.Cryptography;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// Headless Firefox ESR (Debian firefox-esr) with a throwaway profile that trusts only the given CA and accepts
/// delegated credentials. Every host name resolves to 127.0.0.1 and Mozilla's background services are off, so the
/// browser sends nothing beyond loopback. Each load is one process (killed by PID tree if it overruns).
/// </summary>
public sealed class FirefoxHeadless : IDisposable
{
    private static readonly string[] Preferences =
    [
        """user_pref("security.tls.enable_delegated_credentials", true);""",
        """user_pref("network.dns.forceResolve", "127.0.0.1");""",
        """user_pref("network.trr.mode", 5);""",
        """user_pref("network.proxy.type", 0);""",
        """user_pref("network.captive-portal-service.enabled", false);""",
        """user_pref("network.connectivity-service.enabled", false);""",
        """user_pref("app.update.enabled", false);""",
        """user_pref("app.normandy.enabled", false);""",
        """user_pref("browser.safebrowsing.malware.enabled", false);""",
        """user_pref("browser.safebrowsing.phishing.enabled", false);""",
        """user_pref("browser.safebrowsing.downloads.enabled", false);""",
        """user_pref("browser.shell.checkDefaultBrowser", false);""",
        """user_pref("datareporting.policy.dataSubmissionEnabled", false);""",
        """user_pref("datareporting.healthreport.uploadEnabled", false);""",
        """user_pref("toolkit.telemetry.enabled", false);""",
        """user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);""",
        """user_pref("services.settings.server", "https://127.0.0.1:1/");""",
        """user_pref("extensions.update.enabled", false);""",
        """user_pref("dom.push.connection.enabled", false);""",
        """user_pref("security.OCSP.enabled", 0);""",
    ];

    private readonly TempDirectory _home = new("keyless-firefox");

    private FirefoxHeadless()
    {
    }

    private string Profile => Path.Combine(_home.Path, "profile");

    /// <param name="caPem">The one CA to trust, as PEM.</param>
    public static async Task<FirefoxHeadless> CreateAsync(string caPem)
    {
        var firefox = new FirefoxHeadless();
        Directory.CreateDirectory(firefox.Profile);
        var ca = firefox._home.Write("ca.pem", caPem);
        foreach (var step in new[] { new[] { "-N", "-d", $"sql:{firefox.Profile}", "--empty-password" }, ["-A", "-d", $"sql:{firefox.Profile}", "-n", "keyless-test-ca", "-t", "C,,", "-i", ca] })
        {
            var result = await ExternalTool.RunAsync("certutil", step);
            if (result.ExitCode != 0) throw new InvalidOperationException($"certutil failed: {result.All}");
        }
        await File.WriteAllLinesAsync(Path.Combine(firefox.Profile, "user.js"), Preferences);
        return firefox;
    }

    /// <summary>Loads <paramref name="url"/> and saves a screenshot; true when Firefox exited cleanly with one.</summary>
    public async Task<(bool Loaded, ExternalTool.Result Result)> LoadAsync(string url)
    {
        var screenshot = Path.Combine(_home.Path, $"shot-{Guid.NewGuid():n}.png");
        var result = await ExternalTool.RunAsync("firefox-esr",
            ["--headless", "--no-remote", "--profile", Profile, "--screenshot", screenshot, url],
            timeout: TimeSpan.FromSeconds(90),
            environment: new Dictionary<string, string> { ["HOME"] = _home.Path, ["MOZ_HEADLESS"] = "1" });
        return (result.ExitCode == 0 && File.Exists(screenshot), result);
    }

    public void Dispose() => _home.Dispose();
}
