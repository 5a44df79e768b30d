using System.Runtime.InteropServices;

namespace KeylessOrleans.Cli.Demo;

/// <summary>
/// The demo's processes end with whoever started them, however that one ended (SIGKILL included): each child watches
/// the demo, and the demo watches what started it (a shell, <c>dotnet run</c>, a test). A process whose parent exits
/// is re-parented by the kernel (to init or a subreaper), so its parent id changes; that is what is polled.
/// Not PR_SET_PDEATHSIG: it fires when the parent's forking <em>thread</em> exits, and .NET starts processes from
/// thread-pool threads, which retire while the demo still runs (a restarted key server would be killed).
/// </summary>
internal static class ParentWatch
{
    /// <summary>Set by the demo in each child's environment: the demo's process id.</summary>
    public const string Variable = "KEYLESS_DEMO_PARENT_PID";

    private const int SIGTERM = 15;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    /// <summary>An orphaned child gets this long for a graceful stop (a silo leaves its cluster) before it exits hard.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(20);

    /// <summary>This process's parent now.</summary>
    public static int Parent => GetParentProcessId();

    /// <summary>Completes once <paramref name="parent"/> is no longer this process's parent (at once if it is not now).</summary>
    public static async Task WaitUntilGoneAsync(int parent, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Interval);
        while (GetParentProcessId() == parent) await timer.WaitForNextTickAsync(cancellationToken);
    }

    /// <summary>
    /// In a child of the demo (<see cref="Variable"/> set): once the demo is gone, SIGTERM to this process (the same
    /// graceful stop as Ctrl-C), and a hard exit if that has not ended it within <see cref="Grace"/>.
    /// </summary>
    public static void FollowDemo()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(Variable), out var demo)) return;
        _ = Task.Run(async () =>
        {
            await WaitUntilGoneAsync(demo, CancellationToken.None);
            _ = Kill(Environment.ProcessId, SIGTERM);
            await Task.Delay(Grace);
            Environment.Exit(1);
        });
    }

    [DllImport("libc", EntryPoint = "getppid")]
    private static extern int GetParentProcessId();

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
