using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// What one connected tenant costs an edge (issue 16): memory, threads, file descriptors and CPU of this process as it
/// holds more and more tenant clients, each made by <see cref="TenantClusterClients"/> exactly as an edge makes them and each
/// having made one real grain call. The key server is the real <c>keyless keyserver</c> in a process of its own, so
/// nothing it holds is counted here.
/// </summary>
/// <remarks>
/// An Orleans gateway refuses a client whose cluster id is not its own (the connection preamble carries it), and a
/// tenant's client uses the id derived from the tenant's name (<see cref="TenantCluster.ClusterId"/>); with mutual TLS
/// the edge also refuses a gateway whose certificate names another tenant. So N distinct tenants would need N key-server
/// processes. Instead every simulated tenant is "acme", each in a <see cref="TenantClusterClients"/> (and route table)
/// of its own: N clients, N connections, N TLS sessions through the product's own code against one key server. What the
/// extra <see cref="TenantClusterClients"/> instances add (a dictionary and one loaded edge certificate each) is counted
/// too, so the figures are an upper bound.
/// </remarks>
internal static class TenantClientCost
{
    private const string Tenant = "acme";
    private const string Replica = "primary";
    private const string HostName = "www.acme.test";
    private static readonly int[] Steps = [0, 10, 50, 100, 200];
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(75); // connecting; the idle windows add 30 s
    private const long WorkingSetLimit = 3L << 30; // stop before the machine does
    private static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(10);

    public static async Task RunAsync(int count, bool mutualTls, int holdSeconds = 0)
    {
        var clock = Stopwatch.StartNew();
        using var web = new TestCertificateAuthority("KeylessOrleans Bench web CA");
        using var keys = new TenantKeyFolder(web, [HostName]);
        using var work = new TempDirectory("keyless-bench-clients");
        // The key server checks every peer, clients included, against its one --tls-ca: that CA certifies this edge as
        // well as the key server here.
        using var tenantCa = new ClusterIdentities("Acme key-server CA");
        var gatewayPort = KeylessProcess.FreePort();
        var gateway = $"127.0.0.1:{gatewayPort}";
        string[] tls = [];
        (string Certificate, string Key)? edgeIdentity = null;
        if (mutualTls)
        {
            var server = tenantCa.Issue(SiloIdentity.OnPrem(Tenant, Replica));
            // With mutual TLS the gateway admits the edges of the CA it is given (--edge-ca): the same CA here.
            tls = ["--tls-cert", server.Certificate, "--tls-key", server.Key, "--tls-ca", tenantCa.CaFile, "--edge-ca", tenantCa.CaFile];
            edgeIdentity = tenantCa.Issue(SiloIdentity.Edge("bench-edge"));
        }
        // The gateway port through configuration (Keyless:Cluster:GatewayPort), which the keyserver command binds.
        await using var keyServer = KeylessProcess.Start(
            new Dictionary<string, string> { ["KEYLESS__CLUSTER__GATEWAYPORT"] = $"{gatewayPort}" },
            ["keyserver", "--tenant", Tenant, "--replica", Replica, "--keys", keys.Path,
                "--silo-port", $"{KeylessProcess.FreePort()}", "--cluster-id", TenantCluster.ClusterId(Tenant), "--service-id", TenantCluster.ServiceId,
                "--audit-log", Path.Combine(work.Path, "audit.log"), "--admin-port", "0", .. tls]);

        // Errors only from Orleans: the first clients are refused while the key server starts, and say so at warning level.
        using var loggers = LoggerFactory.Create(l => l.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning).AddFilter("Orleans", LogLevel.Error));
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var metrics = new EdgeMetrics(services.GetRequiredService<IMeterFactory>());
        var edgeOptions = Options.Create(new EdgeOptions
        {
            IdentityCertificate = edgeIdentity?.Certificate,
            IdentityKey = edgeIdentity?.Key,
            KeyCalls = { TenantConnectTimeout = TimeSpan.FromSeconds(10) },
        });
        var caPem = mutualTls ? File.ReadAllText(tenantCa.CaFile) : null;
        var keyGrain = new KeyGrainKey(Tenant, Replica, keys.EcdsaKeyId).ToString();

        TenantClusterClients NewEdge()
        {
            var routes = OneTenant.Served(Tenant, HostName, Replica, gateway, caPem);
            // The edge's own cluster serves only non-federated tenants: none here.
            return new TenantClusterClients(null!, routes, edgeOptions, loggers, metrics, TimeProvider.System);
        }

        async Task<TimeSpan> ConnectAndCallAsync(TenantClusterClients edge)
        {
            var started = Stopwatch.GetTimestamp();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            var grains = await edge.GrainsAsync(Tenant, timeout.Token);
            var described = await grains.GetGrain<IKeyGrain>(keyGrain).DescribeAsync(timeout.Token);
            if (described.Status != KeyOperationStatus.Ok) throw new InvalidOperationException($"DescribeAsync: {described.Status} {described.Detail}");
            return Stopwatch.GetElapsedTime(started);
        }

        Console.WriteLine($"# Tenant client cost — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}, "
            + $"{(mutualTls ? "mutual TLS" : "plain TCP")}, key server: `keyless keyserver` pid {keyServer.Id}");
        Console.WriteLine();

        // The key server is ready once a client gets an answer; this first client also pays JIT and one-time type
        // loading, which must not be charged to the tenants measured after it.
        var ready = false;
        for (var attempt = 0; attempt < 60 && !ready && !keyServer.HasExited; attempt++)
        {
            await using var warmUp = NewEdge();
            try
            {
                await ConnectAndCallAsync(warmUp);
                ready = true;
            }
            catch (Exception e) when (e is OrleansException or OperationCanceledException or TimeoutException)
            {
                await Task.Delay(500);
            }
        }
        if (!ready) throw new InvalidOperationException($"the key server never answered:\n{keyServer.Output}");
        await ProbeForeignClusterIdAsync(gatewayPort, edgeIdentity);
        for (var i = 0; i < 3; i++)
        {
            await using var warmUp = NewEdge();
            await ConnectAndCallAsync(warmUp);
        }

        var edges = new List<TenantClusterClients>();
        var connectTimes = new List<TimeSpan>();
        var rows = new List<(int Count, Sample Edge, ProcessSample Server, TimeSpan[] Connects, double CpuPerConnect)>();
        (Idle First, Idle Settled)? idleConnected = null;
        try
        {
            foreach (var step in Steps.Where(s => s < count).Append(count).Distinct())
            {
                var (fromIndex, cpuBefore) = (connectTimes.Count, CpuMs(Environment.ProcessId));
                while (edges.Count < step)
                {
                    var edge = NewEdge();
                    edges.Add(edge);
                    connectTimes.Add(await ConnectAndCallAsync(edge));
                }
                var cpuPerConnect = (CpuMs(Environment.ProcessId) - cpuBefore) / Math.Max(1, connectTimes.Count - fromIndex);
                // Every client is still connected and usable: one more call each, then the reading.
                foreach (var edge in edges) await ConnectAndCallAsync(edge);
                var sample = Sample.Take();
                rows.Add((step, sample, ProcessSample.Read(keyServer.Id), connectTimes.Skip(fromIndex).ToArray(), cpuPerConnect));
                Console.WriteLine($"  {step} tenants connected after {clock.Elapsed.TotalSeconds:0} s: {sample}");
                if (sample.WorkingSet > WorkingSetLimit || clock.Elapsed > Budget)
                {
                    Console.WriteLine($"  stopping early: working set {Mb(sample.WorkingSet)} MiB, {clock.Elapsed.TotalSeconds:0} s elapsed");
                    break;
                }
            }
            // Right after connecting, the runtime is still recompiling hot code (tier 1) for a while; then it settles.
            idleConnected = (await Idle.MeasureAsync(keyServer.Id), await Idle.MeasureAsync(keyServer.Id));
        }
        finally
        {
            if (holdSeconds > 0)
            {
                // Time to look inside, e.g. dotnet-gcdump collect -p PID, with every client connected.
                Console.WriteLine($"  holding {edges.Count} clients for {holdSeconds} s (pid {Environment.ProcessId})");
                await Task.Delay(TimeSpan.FromSeconds(holdSeconds));
            }
            var closing = Stopwatch.StartNew();
            await Task.WhenAll(edges.Select(e => e.DisposeAsync().AsTask()));
            Console.WriteLine($"  closed {edges.Count} clients in {closing.Elapsed.TotalSeconds:0.0} s");
        }
        // The same process with the clients closed: JIT, GC and the runtime's own timers in the same state.
        var idleClosed = await Idle.MeasureAsync(keyServer.Id);

        Console.WriteLine();
        Console.WriteLine("## This process (the edge's side) — totals");
        Console.WriteLine();
        Console.WriteLine("| tenants | managed heap after full GC MiB | GC committed MiB | working set MiB | private (RssAnon) MiB | threads | open fds | key server RSS MiB | key server threads |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var (n, s, server, _, _) in rows)
            Console.WriteLine($"| {n} | {Mb(s.ManagedHeap)} | {Mb(s.GcCommitted)} | {Mb(s.WorkingSet)} | {Mb(s.Private)} | {s.Threads} | {s.FileDescriptors} | {Mb(server.Rss)} | {server.Threads} |");
        Console.WriteLine();
        Console.WriteLine("## Per tenant (difference to the previous row, divided by the tenants added)");
        Console.WriteLine();
        Console.WriteLine("| tenants | managed heap KiB | GC committed KiB | working set KiB | private KiB | threads | fds | key server RSS KiB | connect + first call ms (median / max) | CPU ms per connect |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        for (var i = 1; i < rows.Count; i++)
        {
            var (n, s, server, connects, cpu) = rows[i];
            var (n0, s0, server0, _, _) = rows[i - 1];
            double added = n - n0;
            var sorted = connects.Select(t => t.TotalMilliseconds).Order().ToArray();
            Console.WriteLine($"| {n0}→{n} | {Kb(s.ManagedHeap - s0.ManagedHeap, added)} | {Kb(s.GcCommitted - s0.GcCommitted, added)} | {Kb(s.WorkingSet - s0.WorkingSet, added)} | "
                + $"{Kb(s.Private - s0.Private, added)} | {(s.Threads - s0.Threads) / added:0.00} | {(s.FileDescriptors - s0.FileDescriptors) / added:0.00} | "
                + $"{Kb(server.Rss - server0.Rss, added)} | {sorted[sorted.Length / 2]:0} / {sorted[^1]:0} | {cpu:0} |");
        }
        if (rows.Count > 1)
        {
            var (first, last) = (rows[0], rows[^1]);
            double n = last.Count - first.Count;
            var perTenant = Math.Max(last.Edge.WorkingSet - first.Edge.WorkingSet, last.Edge.Private - first.Edge.Private) / n;
            Console.WriteLine();
            Console.WriteLine($"Over 0→{last.Count}: {perTenant / 1024:0} KiB resident and {(last.Edge.Threads - first.Edge.Threads) / n:0.00} threads per connected tenant; "
                + $"at that rate 1 GiB holds {(1L << 30) / perTenant:0} tenants and 4 GiB {(4L << 30) / perTenant:0} (before the edge's own needs: baseline {Mb(first.Edge.WorkingSet)} MiB here).");
        }
        if (idleConnected is var (busy, settled) && rows.Count > 0)
        {
            var n = rows[^1].Count;
            Console.WriteLine();
            Console.WriteLine($"## Idle CPU (windows of {IdleWindow.TotalSeconds:0} s with no calls)");
            Console.WriteLine();
            Console.WriteLine("| state | this process ms CPU/s | key server ms CPU/s |");
            Console.WriteLine("|---|---|---|");
            Console.WriteLine($"| {n} clients connected, first window after the last connect | {busy.EdgeMsPerSecond:0.0} | {busy.ServerMsPerSecond:0.0} |");
            Console.WriteLine($"| {n} clients connected, next window | {settled.EdgeMsPerSecond:0.0} | {settled.ServerMsPerSecond:0.0} |");
            Console.WriteLine($"| all closed | {idleClosed.EdgeMsPerSecond:0.0} | {idleClosed.ServerMsPerSecond:0.0} |");
            Console.WriteLine($"| per connected tenant (next window − closed), µs CPU/s | {(settled.EdgeMsPerSecond - idleClosed.EdgeMsPerSecond) * 1000 / n:0} | {(settled.ServerMsPerSecond - idleClosed.ServerMsPerSecond) * 1000 / n:0} |");
        }
        Console.WriteLine();
        Console.WriteLine("Each tenant: one Orleans client host (own service provider) with one gateway connection, one DescribeAsync call made; all clients stay connected until the last row.");
    }

    /// <summary>
    /// Whether the tenant's gateway accepts a client that names another cluster (as a second tenant's client would):
    /// a raw client with the edge's certificate, the other tenant's cluster id and no check of the gateway's name.
    /// </summary>
    private static async Task ProbeForeignClusterIdAsync(int gatewayPort, (string Certificate, string Key)? identity)
    {
        var why = new FirstProblem();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddProvider(why);
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gatewayPort));
            client.Configure<ClusterOptions>(c =>
            {
                c.ClusterId = TenantCluster.ClusterId("globex");
                c.ServiceId = TenantCluster.ServiceId;
            });
            if (identity is { } id)
            {
                client.UseTls(X509Certificate2.CreateFromPemFile(id.Certificate, id.Key), tls =>
                {
                    tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
                    tls.RemoteCertificateValidation = (_, _, _) => true;
                });
            }
        });
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        string outcome;
        try
        {
            await host.StartAsync(timeout.Token).WaitAsync(timeout.Token);
            outcome = "ACCEPTED (one key server could then serve many tenant names)";
        }
        catch (OperationCanceledException)
        {
            outcome = $"refused, no connection within 5 s; first problem logged: {why.Message ?? "none"}";
        }
        try { await host.StopAsync(TimeSpan.FromSeconds(2)); } catch (Exception) { /* it never started */ }
        Console.WriteLine($"A client with cluster id {TenantCluster.ClusterId("globex")} at {TenantCluster.ClusterId(Tenant)}'s gateway: {outcome}");
        Console.WriteLine();
    }

    /// <summary>Keeps the first exception message that mentions the cluster id, else the first one at all; prints nothing.</summary>
    private sealed class FirstProblem : ILoggerProvider, ILogger
    {
        private string? _clusterId;
        private string? _any;

        public string? Message => _clusterId ?? _any;

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (exception?.GetBaseException() is not { } problem) return;
            var text = $"{problem.GetType().Name}: {problem.Message}";
            _any ??= text;
            if (problem.Message.Contains("cluster id", StringComparison.OrdinalIgnoreCase)) _clusterId ??= text;
        }

        public void Dispose()
        {
        }
    }

    private static string Mb(long bytes) => $"{bytes / 1048576.0:0.0}";

    private static string Kb(long bytes, double count) => $"{bytes / 1024.0 / count:0}";

    /// <summary>This process, read after a full, compacting collection.</summary>
    private sealed record Sample(long ManagedHeap, long GcCommitted, long WorkingSet, long Private, int Threads, int FileDescriptors)
    {
        public static Sample Take()
        {
            System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            var heap = GC.GetTotalMemory(forceFullCollection: true);
            var self = ProcessSample.Read(Environment.ProcessId);
            using var process = Process.GetCurrentProcess();
            return new Sample(heap, GC.GetGCMemoryInfo().TotalCommittedBytes, self.Rss, self.RssAnon, process.Threads.Count,
                Directory.GetFileSystemEntries("/proc/self/fd").Length);
        }

        public override string ToString() =>
            $"heap {Mb(ManagedHeap)} MiB, working set {Mb(WorkingSet)} MiB, private {Mb(Private)} MiB, {Threads} threads, {FileDescriptors} fds";
    }

    /// <summary>
    /// CPU time this process and the key server spend per second while every client is connected and nobody calls
    /// (the clients' own timers, gateway pings and manifest refreshes; the key server's side of them).
    /// </summary>
    private sealed record Idle(double EdgeMsPerSecond, double ServerMsPerSecond)
    {
        public static async Task<Idle> MeasureAsync(int serverPid)
        {
            var (edge, server, started) = (CpuMs(Environment.ProcessId), CpuMs(serverPid), Stopwatch.GetTimestamp());
            await Task.Delay(IdleWindow);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            return new Idle((CpuMs(Environment.ProcessId) - edge) / seconds, (CpuMs(serverPid) - server) / seconds);
        }

    }

    private static double CpuMs(int pid) => ProcessCpu.OwnMicroseconds(pid) / 1000;

    /// <summary>Resident memory and threads of any process, from /proc/PID/status.</summary>
    private sealed record ProcessSample(long Rss, long RssAnon, int Threads)
    {
        public static ProcessSample Read(int pid)
        {
            long rss = 0, anon = 0;
            var threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                var parts = line.Split(':', 2, StringSplitOptions.TrimEntries);
                if (parts.Length < 2) continue;
                switch (parts[0])
                {
                    case "VmRSS": rss = Kilobytes(parts[1]); break;
                    case "RssAnon": anon = Kilobytes(parts[1]); break;
                    case "Threads": threads = int.Parse(parts[1]); break;
                }
            }
            return new ProcessSample(rss, anon, threads);
        }

        private static long Kilobytes(string value) => long.Parse(value.Split(' ')[0]) * 1024;
    }
}
