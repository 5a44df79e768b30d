using KeylessOrleans.TestSupport;
using Xunit.Abstractions;

namespace KeylessOrleans.Reliability.Tests;

/// <summary>
/// The 2-minute form of tests/reliability/soak.sh: the demo's real processes (edge, key server, origin) under four
/// `openssl s_time` clients, sampled every 10 s; the script judges growth after a 30 s warm-up against its bounds
/// and exits non-zero when one is exceeded. The long form is the same script with --duration 3600.
/// </summary>
public sealed class SoakTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _out = new("keyless-soak");

    [Fact]
    public async Task Two_minutes_of_full_handshakes_grow_no_process_memory_descriptors_threads_or_audit_disk_past_their_bounds()
    {
        var script = Path.Combine(RepositoryRoot(), "tests", "reliability", "soak.sh");
        await using var soak = KeylessProcess.StartProgram("bash",
            [script, "--duration", "120", "--interval", "10", "--warmup", "30",
             "--keyless", Path.Combine(AppContext.BaseDirectory, "keyless.dll"), "--out", _out.Path],
            environment: null);
        // Start-up (up to 180 s on a busy machine) + 120 s of load + the processes' stop.
        var finished = await soak.WaitForExitAsync(TimeSpan.FromMinutes(7));
        output.WriteLine(soak.Output);
        Assert.True(finished, "the soak did not finish within 7 minutes");
        Assert.True(soak.ExitCode == 0, $"soak.sh exited with {soak.ExitCode}:\n{soak.Output}");
        Assert.Contains("soak: PASS", soak.Output);
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "tests", "reliability", "soak.sh"))) return folder.FullName;
        throw new FileNotFoundException("tests/reliability/soak.sh not found above " + AppContext.BaseDirectory);
    }

    public void Dispose() => _out.Dispose();
}
