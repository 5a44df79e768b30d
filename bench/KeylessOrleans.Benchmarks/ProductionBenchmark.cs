using System.Runtime.InteropServices;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// The benchmark's first section: keyless in the production shape (<see cref="ProductionShape"/>) against the same
/// edge with its keys in-process and against nginx, the same `openssl s_time` clients for all three in one run.
/// Latency comes from each edge's own /metrics histogram (accept to finished); CPU per handshake from /proc.
/// Two cold starts of the keyless edge against its warm rate: with the key server started at the same time, and
/// restarted alone against the key server that served every row (as operators restart edges in a rolling deploy).
/// </summary>
internal static class ProductionBenchmark
{
    /// <summary>The cold-start window: how the edge serves in the first seconds after it reports ready.</summary>
    private const int ColdSeconds = 5;

    /// <param name="Logs">What the target's processes printed, for a failure's message.</param>
    private sealed record Target(string Name, int Port, AdminEndpoint? Admin, int[] Pids, Func<string> Logs);

    private sealed record Measurement(double PerSecond, double P50Ms, double P99Ms, double[] CpuPerHandshakeUs);

    /// <summary>A cold-start row: how the edge got ready, what it served in its first seconds, what the JIT compiled meanwhile.</summary>
    /// <param name="Jit">Methods compiled and JIT seconds in the window: edge, key server.</param>
    private sealed record ColdRow(string Name, EdgeStart Start, Measurement Cold, (double Methods, double Seconds)[] Jit);

    public static async Task RunAsync(TenantKeyFolder keys, BulkOrigin origin, NginxServer nginx, string work, int seconds, int clients,
        Func<string, bool> wanted, IReadOnlyDictionary<string, string> environment)
    {
        await using var shape = await ProductionShape.StartAsync(keys, origin.Port, work, environment);
        using var edgeAdmin = new AdminEndpoint(shape.Edge.AdminPort);
        using var keyServerAdmin = new AdminEndpoint(shape.KeyServer.AdminPort);
        using var localAdmin = new AdminEndpoint(shape.LocalKeyEdgeAdminPort);
        var keyless = KeylessTarget(shape, edgeAdmin);
        var inProcess = new Target("in-process key", shape.LocalPort, localAdmin, [shape.LocalKeyEdge.Id], () => shape.LocalKeyEdge.Output);
        var reference = new Target("nginx", nginx.Port, null, [nginx.ProcessId], () => "");
        var coldScenario = HandshakeScenarios.Full[0];

        // At once, before anything else warms the processes: what the first clients after "ready" get when key server
        // and edge start together.
        var bothCold = await MeasureColdAsync("Cold start of both (`keyless keyserver` and `keyless edge` started together)", shape.FirstStart,
            keyless, keyServerAdmin, coldScenario, clients, work);

        var settings = $", {string.Join(" ", ProductionShape.WithDeployedRuntime(environment).Select(e => $"{e.Key}={e.Value}"))}";
        Console.WriteLine($"## Production shape: `keyless edge` and `keyless keyserver` as separate processes ({clients} × openssl s_time, {seconds} s per row{settings})");
        Console.WriteLine();
        Console.WriteLine("Mutual TLS on every silo link (certificates from `keyless ca init` / `keyless cert issue`), the key server in the tenant's own");
        Console.WriteLine("cluster with a PEM key folder and its audit log, the edge proving itself with its edge certificate (edge sessions).");
        Console.WriteLine("In-process key: the same edge as a process of its own with the key operations done in it (the benchmark's --local-key-edge).");
        Console.WriteLine("Latency: each edge's /metrics histogram (accept to finished), interpolated within buckets. CPU: /proc, user + system,");
        Console.WriteLine("over each row ÷ its handshakes (keyless: edge + key server; nginx: master + workers).");
        Console.WriteLine();

        var (warmUp, jitted) = await WarmUpAsync([keyless, inProcess], [edgeAdmin, keyServerAdmin, localAdmin], wanted, clients, work);
        var warm = await MeasureAsync(keyless, coldScenario, clients, ColdSeconds, work);

        Console.WriteLine("| handshake | keyless /s | in-process key /s | nginx /s | keyless ÷ nginx | keyless ÷ in-process | keyless p50/p99 ms | in-process p50/p99 ms | CPU µs/handshake: keyless edge + key server | in-process edge | nginx |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var scenario in HandshakeScenarios.Full.Concat(HandshakeScenarios.Resumed).Where(s => wanted(s.Name)))
        {
            var k = await MeasureAsync(keyless, scenario, clients, seconds, work);
            var l = await MeasureAsync(inProcess, scenario, clients, seconds, work);
            var n = await MeasureAsync(reference, scenario, clients, seconds, work);
            Console.WriteLine($"| {scenario.Name} | {k.PerSecond:0} | {l.PerSecond:0} | {n.PerSecond:0} | **{k.PerSecond / n.PerSecond:0.00}** | **{k.PerSecond / l.PerSecond:0.00}** " +
                $"| {k.P50Ms:0.0} / {k.P99Ms:0.0} | {l.P50Ms:0.0} / {l.P99Ms:0.0} | {k.CpuPerHandshakeUs[0]:0} + {k.CpuPerHandshakeUs[1]:0} | {l.CpuPerHandshakeUs[0]:0} | {n.CpuPerHandshakeUs[0]:0} |");
        }
        Console.WriteLine();
        if (wanted("bulk")) await BulkAsync([keyless.Port, inProcess.Port, reference.Port]);

        // Last, as operators see a cold start: the edge restarted (a rolling deploy) while the tenant's key server,
        // warm from every row above, keeps running.
        var (stopping, graceful, restart) = await shape.RestartEdgeAsync();
        using var restartedAdmin = new AdminEndpoint(shape.Edge.AdminPort);
        var edgeRestart = await MeasureColdAsync("Edge restart against a running key server", restart,
            KeylessTarget(shape, restartedAdmin), keyServerAdmin, coldScenario, clients, work);

        Console.WriteLine($"Warm-up: every row on both edges in rounds until no process JIT-compiled more than {SettledMethods} methods in a round: " +
            $"{warmUp.TotalSeconds:0} s; JIT time in it (edge, key server, in-process edge): {string.Join(", ", jitted.Select(j => $"{j:0.0} s"))}.");
        Console.WriteLine();
        Console.WriteLine($"Cold start ({coldScenario.Name}): the first {ColdSeconds} s from the edge's first successful handshake (handshakes before it fail), " +
            $"against its warm rate measured after the warm-up (same row, {ColdSeconds} s, before the rows above): {warm.PerSecond:0}/s, " +
            $"p50/p99 {warm.P50Ms:0.0} / {warm.P99Ms:0.0} ms, CPU µs per handshake edge + key server {warm.CpuPerHandshakeUs[0]:0} + {warm.CpuPerHandshakeUs[1]:0}. " +
            $"The edge restart: SIGTERM by PID, {(graceful ? "exited" : "killed after 60 s")} in {stopping.TotalSeconds:0.0} s, then the same command line; " +
            "its times count from the new process's start.");
        Console.WriteLine();
        Console.WriteLine($"| start | ready after start | first handshake after ready | cold /s | warm /s | cold ÷ warm | p50/p99 ms cold | CPU µs/handshake edge + key server, cold | warm ÷ cold CPU | methods JIT-compiled in the cold {ColdSeconds} s: edge, key server (JIT s) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var row in new[] { bothCold, edgeRestart })
        {
            var (cold, jit) = (row.Cold, row.Jit);
            // CPU per handshake holds up better than rates when other work shares the cores.
            Console.WriteLine($"| {row.Name} | {row.Start.ToReady.TotalSeconds:0.0} s | {(row.Start.ToServing - row.Start.ToReady).TotalSeconds:0.0} s " +
                $"| {cold.PerSecond:0} | {warm.PerSecond:0} | **{cold.PerSecond / warm.PerSecond:0.00}** | {cold.P50Ms:0.0} / {cold.P99Ms:0.0} " +
                $"| {cold.CpuPerHandshakeUs[0]:0} + {cold.CpuPerHandshakeUs[1]:0} | {warm.CpuPerHandshakeUs.Sum() / cold.CpuPerHandshakeUs.Sum():0.00} " +
                $"| {jit[0].Methods:0}, {jit[1].Methods:0} ({jit[0].Seconds:0.0}, {jit[1].Seconds:0.0}) |");
        }
        Console.WriteLine();
    }

    /// <summary>The production-shape keyless edge and its key server as one target; built again after the edge restarts.</summary>
    private static Target KeylessTarget(ProductionShape shape, AdminEndpoint edgeAdmin) =>
        new("keyless", shape.KeylessPort, edgeAdmin, [shape.Edge.Id, shape.KeyServer.Id], () => shape.KeylessOutput);

    /// <summary>
    /// The cold-start window, measured at once: the methods the JIT compiles meanwhile say what the processes still
    /// lacked, whatever else shares the cores. A process's first /metrics scrape compiles the metrics exporter (~400
    /// methods, none on the handshake path), so each process is scraped once before the count starts.
    /// </summary>
    private static async Task<ColdRow> MeasureColdAsync(string name, EdgeStart start, Target keyless, AdminEndpoint keyServerAdmin,
        HandshakeScenario scenario, int clients, string work)
    {
        AdminEndpoint[] processes = [keyless.Admin!, keyServerAdmin];
        await Task.WhenAll(processes.Select(p => p.MetricsAsync()));
        var before = await Task.WhenAll(processes.Select(JitAsync));
        var cold = await MeasureAsync(keyless, scenario, clients, ColdSeconds, work);
        var after = await Task.WhenAll(processes.Select(JitAsync));
        return new ColdRow(name, start, cold, after.Zip(before, (a, b) => (a.Methods - b.Methods, a.Seconds - b.Seconds)).ToArray());
    }

    private static async Task BulkAsync(int[] ports)
    {
        var bulk = new List<double>();
        foreach (var port in ports)
            bulk.Add(await BulkDownload.MedianMegabytesPerSecondAsync(port, 3));
        Console.WriteLine($"| bulk: {BulkOrigin.BulkBytes / (1024 * 1024)} MiB over TLS 1.3 (curl, median of 3) | keyless MB/s | in-process key MB/s | nginx MB/s | keyless ÷ nginx | keyless ÷ in-process |");
        Console.WriteLine("|---|---|---|---|---|---|");
        Console.WriteLine($"| edge → origin | {bulk[0]:0} | {bulk[1]:0} | {bulk[2]:0} | **{bulk[0] / bulk[2]:0.00}** | **{bulk[0] / bulk[1]:0.00}** |");
        Console.WriteLine();
    }

    /// <summary>
    /// For bench/profile.sh: starts the production shape, prints its ports and process ids on one line, and keeps it
    /// up until SIGTERM or SIGINT.
    /// </summary>
    public static async Task ServeAsync(IReadOnlyDictionary<string, string> environment)
    {
        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var ca = new TestCertificateAuthority("KeylessOrleans Bench CA");
        using var keys = new TenantKeyFolder(ca, [BenchCluster.Host]);
        await using var origin = new BulkOrigin();
        using var work = new TempDirectory("keyless-bench");
        await using var shape = await ProductionShape.StartAsync(keys, origin.Port, work.Path, environment);
        Console.WriteLine($"production shape ready: keyless-port {shape.KeylessPort} edge-pid {shape.Edge.Id} keyserver-pid {shape.KeyServer.Id} " +
            $"in-process-port {shape.LocalPort} in-process-pid {shape.LocalKeyEdge.Id} edge-admin {shape.Edge.AdminPort} keyserver-admin {shape.KeyServer.AdminPort} in-process-admin {shape.LocalKeyEdgeAdminPort}");
        await Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        Console.WriteLine($"{shape.KeylessOutput}\n[in-process-key edge]\n{shape.LocalKeyEdge.Output}");
    }

    /// <summary>A round in which no process compiled more methods than this counts as warm.</summary>
    private const int SettledMethods = 100;

    /// <summary>
    /// Drives every row against both edges, round after round, until the tiered JIT has settled in every process
    /// (at most 2 min). With 1–2 s per row, as the one-process reference warms, the production-shape edge was still
    /// compiling ~3,000 methods per 8 s of load half a minute later, at ~70 % of a core, and measured at a sixth of
    /// its settled rate.
    /// </summary>
    /// <returns>How long it took, and the JIT time each process spent in it.</returns>
    private static async Task<(TimeSpan Took, double[] JitSeconds)> WarmUpAsync(Target[] edges, AdminEndpoint[] processes, Func<string, bool> wanted,
        int clients, string work)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var start = await Task.WhenAll(processes.Select(JitAsync));
        var last = start;
        var scenarios = HandshakeScenarios.Full.Concat(HandshakeScenarios.Resumed).Where(s => wanted(s.Name)).ToList();
        while (clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            foreach (var scenario in scenarios)
                foreach (var edge in edges)
                    await HandshakeLoad.RunAsync(edge.Port, scenario, clients, 1, work);
            var now = await Task.WhenAll(processes.Select(JitAsync));
            var settled = now.Zip(last, (a, b) => a.Methods - b.Methods <= SettledMethods).All(s => s);
            last = now;
            if (settled) break;
        }
        return (clock.Elapsed, last.Zip(start, (a, b) => a.Seconds - b.Seconds).ToArray());
    }

    private static async Task<(double Methods, double Seconds)> JitAsync(AdminEndpoint admin)
    {
        var metrics = await admin.MetricsAsync();
        return (AdminEndpoint.Sum(metrics, "dotnet_jit_compiled_methods_total"), AdminEndpoint.Sum(metrics, "dotnet_jit_compilation_time_seconds_total"));
    }

    private static async Task<Measurement> MeasureAsync(Target target, HandshakeScenario scenario, int clients, int seconds, string work)
    {
        var before = target.Admin is null ? null : await EdgeHistogram.ScrapeAsync(target.Admin);
        var cpuBefore = target.Pids.Select(ProcessCpu.Microseconds).ToArray();
        LoadResult load;
        try
        {
            load = await HandshakeLoad.RunAsync(target.Port, scenario, clients, seconds, work);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"{target.Name}: {e.Message}\n{target.Logs()}", e);
        }
        var cpuAfter = target.Pids.Select(ProcessCpu.Microseconds).ToArray();
        var (p50, p99) = (double.NaN, double.NaN);
        if (before is not null)
            (_, p50, p99) = EdgeHistogram.Between(before, await EdgeHistogram.ScrapeAsync(target.Admin!));
        var handshakes = load.PerSecond * seconds;
        return new Measurement(load.PerSecond, p50, p99, cpuAfter.Zip(cpuBefore, (a, b) => (a - b) / handshakes).ToArray());
    }
}
