using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// The real keyless program (keyless.dll next to the test assembly) run as a child process, its output kept
/// for assertions. Disposing stops it by PID: SIGTERM, then SIGKILL of the whole tree if it lingers.
/// </summary>
public sealed class KeylessProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _lineArrived = new(0);
    // Both output streams reached their end: every line the process wrote is in _lines.
    private readonly TaskCompletionSource _outputEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _openStreams = 2;

    private readonly string? _registryFolder;

    private KeylessProcess((Process Process, string? RegistryFolder) started)
    {
        var process = started.Process;
        _process = process;
        _registryFolder = started.RegistryFolder;
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;
    public string Output => string.Join('\n', _lines);

    /// <summary>
    /// The admin port this process was given (/metrics, /healthz, /readyz): its own free port through
    /// KEYLESS__ADMIN__PORT (unless the caller's environment sets one), so silos started side by side never fight
    /// over the role defaults. An --admin-port argument overrides it (command line beats environment), and then
    /// this is not the port in use.
    /// </summary>
    public int AdminPort { get; private init; }

    /// <summary>
    /// For silos started over Redis on this one machine without cluster TLS: multi-host clustering refuses plaintext
    /// silo links unless Keyless:Cluster:AllowPlaintextMultiHost names the risk.
    /// </summary>
    public static IReadOnlyDictionary<string, string> PlaintextMultiHost { get; } =
        new Dictionary<string, string> { ["KEYLESS__CLUSTER__ALLOWPLAINTEXTMULTIHOST"] = "true" };

    /// <summary>
    /// The keyless program these processes run: keyless.dll next to the calling assembly, or another build of it
    /// (the benchmark's --keyless: a ReadyToRun publish).
    /// </summary>
    public static string ProgramPath { get; set; } = Path.Combine(AppContext.BaseDirectory, "keyless.dll");

    /// <summary>Keyless:Edge:WarmUp:Enabled: off in processes started here unless the caller's environment sets it.</summary>
    public const string WarmUpVariable = "KEYLESS__EDGE__WARMUP__ENABLED";

    public static KeylessProcess Start(params string[] arguments) => Start(new Dictionary<string, string>(), arguments);

    /// <summary>The keyless program with extra environment variables (e.g. <c>Logging__LogLevel__…</c>, <c>TMPDIR</c>).</summary>
    public static KeylessProcess Start(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartUnder([], environment, arguments);

    /// <summary>
    /// The keyless program started through <paramref name="launcher"/> — a command that runs the rest of its command
    /// line in another context and then becomes it (e.g. <c>ip netns exec NAME</c>, which execs, so the PID is the
    /// program's own). Empty: started directly.
    /// </summary>
    public static KeylessProcess StartUnder(IReadOnlyList<string> launcher, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var program = ProgramPath;
        if (!File.Exists(program)) throw new FileNotFoundException("keyless.dll is not there", program);
        var adminPort = environment.TryGetValue("KEYLESS__ADMIN__PORT", out var given) ? int.Parse(given) : FreePort();
        var withAdmin = new Dictionary<string, string>(environment) { ["KEYLESS__ADMIN__PORT"] = $"{adminPort}" };
        // An edge's warm-up (seconds of handshakes with itself before it is ready) is off unless the caller turns it
        // on: tests start many edges side by side on a few cores, and what they check does not need a warm JIT.
        withAdmin.TryAdd(WarmUpVariable, "false");
        string[] command = [.. launcher, "dotnet", program, .. arguments];
        return new KeylessProcess(Launch(command[0], command[1..], withAdmin)) { AdminPort = adminPort };
    }

    /// <summary>Any program (e.g. a deploy script), with extra environment variables.</summary>
    public static KeylessProcess StartProgram(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment) =>
        new(Launch(file, arguments, environment));

    /// <summary>
    /// Starts a program. Unless the caller's environment names one, it gets a registry folder of its own
    /// (KEYLESS__CLUSTER__REGISTRYDIRECTORY, deleted with the process): a single-machine edge keeps its registry in
    /// files, and edges of unrelated tests must neither share the user's default folder nor leave state in it.
    /// </summary>
    private static (Process, string?) Launch(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment)
    {
        const string registryVariable = "KEYLESS__CLUSTER__REGISTRYDIRECTORY";
        string? registryFolder = null;
        if (environment is null || !environment.ContainsKey(registryVariable))
        {
            registryFolder = Path.Combine(Path.GetTempPath(), $"keyless-registry-{Guid.NewGuid():N}");
            environment = new Dictionary<string, string>(environment ?? new Dictionary<string, string>()) { [registryVariable] = registryFolder };
        }
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        return (Process.Start(start)!, registryFolder);
    }

    /// <summary>Runs a keyless command to its end: exit code and everything it printed.</summary>
    public static Task<(int ExitCode, string Output)> RunToEndAsync(params string[] arguments) => RunToEndUnderAsync([], arguments);

    /// <summary>A keyless command run to its end through <paramref name="launcher"/> (see <see cref="StartUnder"/>).</summary>
    public static async Task<(int ExitCode, string Output)> RunToEndUnderAsync(IReadOnlyList<string> launcher, params string[] arguments)
    {
        await using var process = StartUnder(launcher, new Dictionary<string, string>(), arguments);
        if (!await process.WaitForExitAsync(TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"keyless {string.Join(' ', arguments)} did not finish:\n{process.Output}");
        process._process.WaitForExit(); // drains the redirected output
        return (process.ExitCode, process.Output);
    }

    public static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>SIGTERM to any process by PID.</summary>
    public static void Terminate(int pid) => _ = Kill(pid, 15);

    /// <summary>SIGKILL to a process by PID (an orphan of a crashed test run).</summary>
    public static void Kill(int pid) => _ = Kill(pid, 9);

    private void Add(string? line)
    {
        if (line is null)
        {
            if (Interlocked.Decrement(ref _openStreams) == 0) _outputEnded.TrySetResult();
            return;
        }
        _lines.Enqueue(line);
        _lineArrived.Release();
    }

    /// <summary>Waits for an output line containing <paramref name="text"/>; fails with the output so far.</summary>
    public async Task<string> WaitForLineAsync(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var line = _lines.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
            if (line is not null) return line;
            if (_process.HasExited && !_lineArrived.Wait(0))
                throw new InvalidOperationException($"keyless exited ({_process.ExitCode}) before printing '{text}':\n{Output}");
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"keyless did not print '{text}' within {timeout}:\n{Output}");
            await _lineArrived.WaitAsync(left < TimeSpan.FromMilliseconds(500) ? left : TimeSpan.FromMilliseconds(500));
        }
    }

    public void Signal(PosixSignal signal) => _ = Kill(_process.Id, signal switch
    {
        PosixSignal.SIGTERM => 15,
        PosixSignal.SIGINT => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(signal)),
    });

    /// <summary>
    /// SIGSTOP: the process hangs as a wedged server does, its sockets open and nothing answered, until <see cref="Thaw"/>.
    /// Thaw it before disposing: a stopped process cannot act on SIGTERM.
    /// </summary>
    public void Freeze() => _ = Kill(_process.Id, 19);

    /// <summary>SIGCONT: a <see cref="Freeze"/>d process runs on.</summary>
    public void Thaw() => _ = Kill(_process.Id, 18);

    /// <summary>SIGKILL, as a crash: no chance to leave the cluster.</summary>
    public void Crash() => _process.Kill(entireProcessTree: false);

    /// <summary>True when the process exited within <paramref name="timeout"/>; its output is then complete in <see cref="Output"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        // The last lines can still be in the pipe when the process is gone. A child that inherited the pipe keeps it
        // open, so this part of the wait is bounded and not required for the answer.
        try
        {
            await _outputEnded.Task.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }
        return true;
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited)
        {
            Signal(PosixSignal.SIGTERM);
            if (!await WaitForExitAsync(TimeSpan.FromSeconds(60)))
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        RemoveRuntimeIpcFiles(_process.Id);
        _process.Dispose();
        if (_registryFolder is not null && Directory.Exists(_registryFolder)) Directory.Delete(_registryFolder, recursive: true);
    }

    /// <summary>
    /// The .NET runtime's diagnostic socket and debugger pipes in the temp folder, which it removes only on a clean
    /// exit: a SIGKILLed process leaves them behind.
    /// </summary>
    private static void RemoveRuntimeIpcFiles(int pid)
    {
        var temp = Path.GetTempPath();
        foreach (var pattern in new[] { $"dotnet-diagnostic-{pid}-*-socket", $"clr-debug-pipe-{pid}-*" })
            foreach (var file in Directory.EnumerateFiles(temp, pattern))
                File.Delete(file);
    }

    /// <summary>A base port whose next <paramref name="count"/> ports are free for a child process to listen on.</summary>
    public static int FreePortRange(int count) => Cluster.Hosting.LoopbackPorts.Take(count);

    /// <summary>A port free for a child process to listen on (see <see cref="Cluster.Hosting.LoopbackPorts"/> for why not bind(0)).</summary>
    public static int FreePort() => Cluster.Hosting.LoopbackPorts.Take();

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
