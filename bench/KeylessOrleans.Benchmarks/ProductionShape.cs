using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// Keyless as operators run it, on this one machine: `keyless keyserver` (the tenant's own cluster, a PEM key folder,
/// its audit log) and `keyless edge` (the operator's cluster) as separate processes, mutual TLS on every silo link with
/// certificates made by `keyless ca init` / `keyless cert issue`, the edge reaching the key server's gateway as a client
/// of the tenant's cluster, proving itself with its edge certificate (edge sessions). Beside them, as a process of its
/// own, the same edge with the keys in-process (<see cref="LocalKeyEdgeProcess"/>). Processes are stopped by PID.
/// </summary>
internal sealed class ProductionShape : IAsyncDisposable
{
    private readonly List<KeylessProcess> _processes = [];

    private ProductionShape(string work) => Work = work;

    public string Work { get; }
    public int KeylessPort { get; } = KeylessProcess.FreePort();
    public int LocalPort { get; } = KeylessProcess.FreePort();
    public KeylessProcess Edge { get; private set; } = null!;
    public KeylessProcess KeyServer { get; private set; } = null!;
    public KeylessProcess LocalKeyEdge { get; private set; } = null!;

    /// <summary>
    /// Starts the in-process-key edge and waits until it serves, then the key server and the keyless edge together
    /// (as a deployment comes up) and returns as soon as the keyless edge reports ready and has completed a handshake:
    /// a caller that measures at once measures the cold start of both.
    /// </summary>
    /// <param name="environment">Added to the keyless processes' environment (e.g. DOTNET_gcServer), over <see cref="DeployedRuntime"/>.</param>
    public static async Task<ProductionShape> StartAsync(TenantKeyFolder keys, int originPort, string work, IReadOnlyDictionary<string, string>? environment = null)
    {
        var shape = new ProductionShape(Path.Combine(work, "production"));
        Directory.CreateDirectory(shape.Work);
        try
        {
            await shape.StartAsync(keys, originPort, WithDeployedRuntime(environment));
            return shape;
        }
        catch
        {
            await shape.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The JIT tiering every deployment of this repository sets (deploy/, docs/operations.md "Start-up"), so the
    /// processes here start as deployed ones do; `--env` overrides each (e.g. `--env DOTNET_TC_CallCountingDelayMs=100
    /// --env DOTNET_TieredPGO_InstrumentOnlyHotCode=1` for the runtime's defaults).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> DeployedRuntime = new Dictionary<string, string>
    {
        ["DOTNET_TC_CallCountingDelayMs"] = "0",
        ["DOTNET_TieredPGO_InstrumentOnlyHotCode"] = "0",
    };

    /// <summary><see cref="DeployedRuntime"/> with <paramref name="environment"/> over it: what the keyless processes run with.</summary>
    public static Dictionary<string, string> WithDeployedRuntime(IReadOnlyDictionary<string, string>? environment)
    {
        var settings = new Dictionary<string, string>(DeployedRuntime);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) settings[name] = value;
        return settings;
    }

    private string F(string relative) => Path.Combine(Work, relative);

    private async Task StartAsync(TenantKeyFolder keys, int originPort, IReadOnlyDictionary<string, string> environment)
    {
        // The baseline first, ready before the keyless processes start, so their start-up has the cores to itself.
        var (file, prefix) = Environment.ProcessPath is { } path && !Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase)
            ? (path, Array.Empty<string>())
            : ("dotnet", [typeof(ProductionShape).Assembly.Location]);
        var localAdmin = KeylessProcess.FreePort();
        LocalKeyEdge = Track(KeylessProcess.StartProgram(file, [.. prefix, "--local-key-edge", keys.Path, $"{LocalPort}", $"{originPort}", $"{localAdmin}"], environment));
        LocalKeyEdgeAdminPort = localAdmin;

        // The operator's PKI (edges) and the tenant's (its key server), made with the keyless program.
        await RunOkAsync("ca", "init", "--dir", F("operator-ca"), "--name", "Bench operator CA");
        await RunOkAsync("cert", "issue", "--ca-dir", F("operator-ca"), "--role", "edge", "--name", "bench-edge", "--out", F("edge-tls"));
        await RunOkAsync("ca", "init", "--dir", F("tenant-ca"), "--name", "Bench tenant CA");
        await RunOkAsync("cert", "issue", "--ca-dir", F("tenant-ca"), "--role", "onprem", "--tenant", "bench", "--out", F("keyserver-tls"));
        var gateway = KeylessProcess.FreePort();
        await File.WriteAllTextAsync(F("tenants.json"), JsonSerializer.Serialize(new
        {
            tenants = new[]
            {
                new
                {
                    tenant = "bench",
                    hostNames = new[] { BenchCluster.Host },
                    origin = new { host = "127.0.0.1", port = originPort },
                    keyServers = new[] { new { replica = "primary", gateway = $"127.0.0.1:{gateway}" } },
                    keyServerCa = await File.ReadAllTextAsync(F("tenant-ca/ca.pem")),
                },
            },
        }));
        await LocalKeyEdge.WaitForLineAsync(LocalKeyEdgeProcess.ReadyLine, TimeSpan.FromSeconds(120));

        var clock = Stopwatch.StartNew();
        KeyServer = Track(KeylessProcess.Start(environment, "keyserver", "--tenant", "bench", "--keys", keys.Path,
            "--audit-log", F("audit-{tenant}-{replica}.log"), "--silo-port", $"{KeylessProcess.FreePort()}", "--gateway-port", $"{gateway}",
            "--edge-ca", F("operator-ca/ca.pem"),
            "--tls-cert", F("keyserver-tls/cert.pem"), "--tls-key", F("keyserver-tls/key.pem"), "--tls-ca", F("tenant-ca/ca.pem")));
        // s_time sends no SNI: the edge serves the bench host by default. The admin port is fixed here so that a
        // restarted edge answers where the first one did.
        _edgeEnvironment = new Dictionary<string, string>(environment)
        {
            ["KEYLESS__EDGE__TLS__DEFAULTHOSTNAME"] = BenchCluster.Host,
            ["KEYLESS__ADMIN__PORT"] = $"{KeylessProcess.FreePort()}",
        };
        // The edge as deployed warms up before ready (KeylessProcess turns that off for tests); --env sets it either way.
        _edgeEnvironment.TryAdd(KeylessProcess.WarmUpVariable, "true");
        _edgeArguments = ["edge", "--https-port", $"{KeylessPort}", "--silo-port", $"{KeylessProcess.FreePort()}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--tenants", F("tenants.json"), "--registry-dir", F("registry"), "--edge-id", "bench-edge",
            "--tls-cert", F("edge-tls/cert.pem"), "--tls-key", F("edge-tls/key.pem"), "--tls-ca", F("operator-ca/ca.pem")];
        Edge = Track(KeylessProcess.Start(_edgeEnvironment, _edgeArguments));
        FirstStart = await WaitUntilServingAsync(clock);
    }

    private Dictionary<string, string> _edgeEnvironment = null!;
    private string[] _edgeArguments = null!;

    /// <summary>What the edge printed before its last restart, for a failure's message.</summary>
    private string _stoppedEdgeOutput = "";

    /// <summary>The start of key server and edge together: since both were started.</summary>
    public EdgeStart FirstStart { get; private set; } = null!;

    /// <summary>
    /// Restarts the keyless edge as an operator does in a rolling deploy, the key server left running: SIGTERM by PID,
    /// SIGKILL if it has not exited within 60 s, then the same command line and environment again; returns once the
    /// new edge is ready and has completed a handshake, so a caller that measures at once measures its cold start.
    /// </summary>
    public async Task<(TimeSpan Stopping, bool Graceful, EdgeStart Start)> RestartEdgeAsync()
    {
        var stopping = Stopwatch.StartNew();
        var index = _processes.IndexOf(Edge);
        Edge.Signal(PosixSignal.SIGTERM);
        var graceful = await Edge.WaitForExitAsync(TimeSpan.FromSeconds(60));
        if (!graceful) Edge.Crash();
        _stoppedEdgeOutput = Edge.Output;
        await Edge.DisposeAsync();
        stopping.Stop();
        var clock = Stopwatch.StartNew();
        Edge = KeylessProcess.Start(_edgeEnvironment, _edgeArguments);
        _processes[index] = Edge;
        return (stopping.Elapsed, graceful, await WaitUntilServingAsync(clock));
    }

    /// <summary>The keyless processes' output so far, for a failure's message.</summary>
    public string KeylessOutput => (_stoppedEdgeOutput.Length == 0 ? "" : $"[edge before its restart]\n{_stoppedEdgeOutput}\n") +
        $"[edge]\n{Edge.Output}\n[keyserver]\n{KeyServer.Output}";

    /// <summary>Waits until the keyless edge reports ready, then until it completes a handshake.</summary>
    /// <param name="clock">Started when the processes being waited for were started.</param>
    private async Task<EdgeStart> WaitUntilServingAsync(Stopwatch clock)
    {
        using var admin = new AdminEndpoint(Edge.AdminPort);
        while (true)
        {
            if (Edge.HasExited || KeyServer.HasExited)
                throw new InvalidOperationException($"a keyless process exited before the edge was ready:\n{KeylessOutput}");
            if (clock.Elapsed > TimeSpan.FromSeconds(120))
                throw new TimeoutException($"the keyless edge was not ready within 120 s:\n{KeylessOutput}");
            var (status, body) = await admin.GetAsync("readyz");
            // Healthy, not just 200: Degraded (also 200) means the tenant's key server is not there yet.
            if (status == 200 && JsonDocument.Parse(body).RootElement.GetProperty("status").GetString() == "Healthy") break;
            await Task.Delay(50);
        }
        var ready = clock.Elapsed;
        // /readyz says Healthy before the edge can serve a tenant of its tenants file: the file may not be imported
        // yet (unrecognized_name), and the tenant's key-server cluster is connected and its chains checked only on its
        // first handshake, within a 2 s deadline (internal_error when that takes longer). s_time gives up at its
        // first failed handshake, so the cold-start row starts at the first handshake that succeeds.
        while (true)
        {
            if (clock.Elapsed > ready + TimeSpan.FromSeconds(60))
                throw new TimeoutException($"the keyless edge did not complete a handshake within 60 s of ready:\n{KeylessOutput}");
            var probe = await ExternalTool.RunAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{KeylessPort}", "-tls1_3"], standardInput: "",
                timeout: TimeSpan.FromSeconds(10));
            if (probe.Output.Contains("Cipher is TLS_", StringComparison.Ordinal) && !probe.Output.Contains("Cipher is (NONE)", StringComparison.Ordinal)) break;
            await Task.Delay(50);
        }
        return new EdgeStart(ready, clock.Elapsed);
    }

    public int LocalKeyEdgeAdminPort { get; private set; }

    private KeylessProcess Track(KeylessProcess process)
    {
        _processes.Add(process);
        return process;
    }

    private static async Task RunOkAsync(params string[] arguments)
    {
        var (exitCode, output) = await KeylessProcess.RunToEndAsync(arguments);
        if (exitCode != 0) throw new InvalidOperationException($"keyless {string.Join(' ', arguments)} failed ({exitCode}):\n{output}");
    }

    public async ValueTask DisposeAsync()
    {
        // The edge first (it leaves the tenant's cluster as a client), then the key server, then the baseline.
        for (var i = _processes.Count - 1; i >= 0; i--) await _processes[i].DisposeAsync();
    }
}

/// <summary>How a start of the keyless edge went, since its start.</summary>
/// <param name="ToReady">When its /readyz first said Healthy (every tenant has its key server).</param>
/// <param name="ToServing">When it first completed a handshake.</param>
internal sealed record EdgeStart(TimeSpan ToReady, TimeSpan ToServing);
