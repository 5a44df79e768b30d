using System.Diagnostics;
using System.Runtime.InteropServices;

namespace KeylessOrleans.Cli.Demo;

/// <summary>One of the demo's processes: this same program run with a subcommand, its output prefixed with its name.</summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private const int SIGTERM = 15;

    /// <summary>
    /// What the demo's children get in their environment unless the user's own sets it. Server GC, as Orleans
    /// recommends for silos (with .NET's DATAS a small heap stays small). Orleans' notes on a busy machine or a peer
    /// still starting or gone (watchdog, long turns, thread-pool stalls, refused connections with their stack traces)
    /// only from Error up: the demo runs three processes on one machine and says itself when the key server is down.
    /// The edge's client of the tenant's cluster failing to start is the hosting library's Error with a stack trace,
    /// and the edge's own warning says it already (with the retry); a child whose own host fails still exits, and the
    /// demo names it. The edge and keyserver commands keep all of these for operators.
    /// </summary>
    private static readonly Dictionary<string, string> DemoEnvironment = new()
    {
        ["DOTNET_gcServer"] = "1",
        // The JIT tiering every deployment sets (docs/operations.md, "Start-up"): the demo's first requests come sooner.
        ["DOTNET_TC_CallCountingDelayMs"] = "0",
        ["DOTNET_TieredPGO_InstrumentOnlyHotCode"] = "0",
        ["Logging__LogLevel__Orleans.Runtime.Watchdog"] = "Error",
        ["Logging__LogLevel__Orleans.Runtime.Scheduler.WorkItemGroup"] = "Error",
        ["Logging__LogLevel__Orleans.Runtime.MembershipService.LocalSiloHealthMonitor"] = "Error",
        ["Logging__LogLevel__Orleans.Runtime.Messaging"] = "Error",
        ["Logging__LogLevel__Orleans.Messaging"] = "Error",
        ["Logging__LogLevel__Microsoft.Extensions.Hosting.Internal.Host"] = "Critical",
    };

    private readonly Process _process;
    private readonly long _started = Stopwatch.GetTimestamp();

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }
    public int Id => _process.Id;
    public Task Exited => _process.WaitForExitAsync();
    public int ExitCode => _process.ExitCode;

    /// <summary>Time since it was started.</summary>
    public TimeSpan Age => Stopwatch.GetElapsedTime(_started);

    public static ChildProcess Start(string name, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Under "dotnet keyless.dll" the process path is the dotnet host: name the program too.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (variable, value) in DemoEnvironment)
            if (Environment.GetEnvironmentVariable(variable) is null) start.Environment[variable] = value;
        start.Environment[ParentWatch.Variable] = $"{Environment.ProcessId}";
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.WriteLine($"[{name}] {e.Data}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[{name}] {e.Data}"); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(name, process);
    }

    /// <summary>SIGTERM, then up to <paramref name="grace"/> for a clean exit, then SIGKILL.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited) return;
        _ = Kill(_process.Id, SIGTERM);
        using var limit = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        await StopAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
