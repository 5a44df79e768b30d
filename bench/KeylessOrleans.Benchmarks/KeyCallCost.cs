using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
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
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// What one remote key call costs in CPU, split between the edge's side and the key server's, in the production shape:
/// a real <c>keyless keyserver</c> process (its tenant's cluster, mutual TLS, edge authentication, its audit log) and
/// this process calling it through the edge's own <see cref="TenantClusterClients"/> and <see cref="KeyServerClient"/>
/// (edge certificate, edge session), <c>clients</c> callers at once as the handshake benchmark's s_time clients.
/// </summary>
/// <remarks>
/// The rows take the remote call apart: a grain call that does nothing (<c>DescribeAsync</c>: the Orleans round trip over
/// mutual TLS and the key server's request filter), then the CertificateVerify signature an edge asks for per TLS 1.3
/// handshake (proof, check, signature, audit record), then the same against a key server with its audit log off. The
/// handshake benchmark runs the machine's two cores flat out (clients included), so handshakes per second follow the
/// CPU each handshake costs every process together; these figures say how much of that the remote call is, and how much
/// of the call is Orleans. Not included: the edge's local handshake-grain hop and its check of the answer (timed
/// separately below), and the handshake thread's wait.
/// </remarks>
internal static class KeyCallCost
{
    private const string Tenant = "acme";
    private const string Replica = "primary";
    private const string HostName = "www.acme.test";

    public static async Task RunAsync(int seconds, int clients, IReadOnlyDictionary<string, string> environment)
    {
        using var web = new TestCertificateAuthority("KeylessOrleans Bench web CA");
        using var keys = new TenantKeyFolder(web, [HostName]);
        using var work = new TempDirectory("keyless-bench-key-calls");
        // One CA certifies the key server, and the edge both as a TLS client and as the signer of key requests.
        using var tenantCa = new ClusterIdentities("Acme key-server CA");
        var server = tenantCa.Issue(SiloIdentity.OnPrem(Tenant, Replica));
        var edge = tenantCa.Issue(SiloIdentity.Edge("bench-edge"));
        var runtime = ProductionShape.WithDeployedRuntime(environment);

        Console.WriteLine($"# Key call cost — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {clients} callers, {seconds} s per row");
        Console.WriteLine();
        Console.WriteLine("`keyless keyserver` in a process of its own (mutual TLS, --edge-ca, audit log); this process calls it as an edge does");
        Console.WriteLine("(TenantClusterClients, KeyServerClient: edge certificate, edge session). CPU: /proc, user + system, ÷ calls.");
        Console.WriteLine("Context switches: voluntary + involuntary, every thread of the process, ÷ calls.");
        Console.WriteLine();
        Console.WriteLine("| call | key server audit log | calls/s | p50 ms | CPU µs/call: caller | key server | both | context switches/call: caller | key server |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");

        foreach (var audit in new[] { true, false })
        {
            var settings = new Dictionary<string, string>(runtime)
            {
                ["KEYLESS__CLUSTER__GATEWAYPORT"] = $"{KeylessProcess.FreePort()}",
                ["KEYLESS__KEYSERVER__AUDITLOG__ENABLED"] = audit ? "true" : "false",
            };
            await using var keyServer = KeylessProcess.Start(settings,
                ["keyserver", "--tenant", Tenant, "--replica", Replica, "--keys", keys.Path,
                    "--silo-port", $"{KeylessProcess.FreePort()}", "--cluster-id", TenantCluster.ClusterId(Tenant), "--service-id", TenantCluster.ServiceId,
                    "--audit-log", Path.Combine(work.Path, $"audit-{audit}.log"), "--admin-port", "0", "--edge-ca", tenantCa.CaFile,
                    "--tls-cert", server.Certificate, "--tls-key", server.Key, "--tls-ca", tenantCa.CaFile]);
            await using var caller = await Caller.ConnectAsync(keys, $"127.0.0.1:{settings["KEYLESS__CLUSTER__GATEWAYPORT"]}",
                File.ReadAllText(tenantCa.CaFile), edge, keyServer);

            var rows = audit
                ? new (string Name, Func<Task<bool>> Call)[] { ("DescribeAsync (nothing done)", caller.DescribeAsync), ("sign CertificateVerify, ECDSA P-256", caller.SignAsync) }
                : [("sign CertificateVerify, ECDSA P-256", caller.SignAsync)];
            foreach (var (name, call) in rows)
            {
                await RunForAsync(TimeSpan.FromSeconds(seconds), clients, call); // warm: the JIT's tiers settle
                var before = (ProcessCpu.OwnMicroseconds(Environment.ProcessId), ProcessCpu.OwnMicroseconds(keyServer.Id), Switches(Environment.ProcessId), Switches(keyServer.Id));
                var (count, latencies) = await RunForAsync(TimeSpan.FromSeconds(seconds), clients, call);
                var after = (ProcessCpu.OwnMicroseconds(Environment.ProcessId), ProcessCpu.OwnMicroseconds(keyServer.Id), Switches(Environment.ProcessId), Switches(keyServer.Id));
                double n = Math.Max(1, count);
                var (callerCpu, serverCpu) = ((after.Item1 - before.Item1) / n, (after.Item2 - before.Item2) / n);
                latencies.Sort();
                Console.WriteLine($"| {name} | {(audit ? "on" : "off")} | {count / (double)seconds:0} | {latencies[latencies.Count / 2]:0.00} | "
                    + $"{callerCpu:0} | {serverCpu:0} | {callerCpu + serverCpu:0} | {(after.Item3 - before.Item3) / n:0.0} | {(after.Item4 - before.Item4) / n:0.0} |");
            }
        }

        Console.WriteLine();
        var (verify, sign) = LocalCosts(keys);
        Console.WriteLine($"For comparison, in this process on one thread: the edge's check of a P-256 answer (AnswerCheck) {verify:0} µs; "
            + $"the same signature done locally (.NET, OpenSSL) {sign:0} µs.");
    }

    /// <summary>Calls <paramref name="call"/> from <paramref name="callers"/> loops for <paramref name="duration"/>; the successful calls and their latencies in ms.</summary>
    private static async Task<(int Count, List<double> Latencies)> RunForAsync(TimeSpan duration, int callers, Func<Task<bool>> call)
    {
        var stop = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var loops = Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            var latencies = new List<double>();
            while (Stopwatch.GetTimestamp() < stop)
            {
                var started = Stopwatch.GetTimestamp();
                if (!await call()) throw new InvalidOperationException("a key call failed: the figures would not be the call's");
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            return latencies;
        })).ToArray();
        var all = (await Task.WhenAll(loops)).SelectMany(l => l).ToList();
        return (all.Count, all);
    }

    /// <summary>µs per call of the edge's answer check and of a local P-256 signature, each over 2,000 calls after 500 unmeasured.</summary>
    private static (double Verify, double Sign) LocalCosts(TenantKeyFolder keys)
    {
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(File.ReadAllText(Path.Combine(keys.Path, "ecdsa.pem")));
        var certificate = chain[0].RawData;
        using var key = ECDsa.Create();
        key.ImportECPrivateKey(keys.Ecdsa.PemDer, out _);
        var content = Caller.CertificateVerifyContent();
        var signature = key.SignData(content, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        var check = new AnswerCheck();
        double Time(Action action)
        {
            for (var i = 0; i < 500; i++) action();
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < 2000; i++) action();
            return Stopwatch.GetElapsedTime(started).TotalMicroseconds / 2000;
        }
        var verify = Time(() =>
        {
            if (check.SignatureProblem(certificate, SignatureScheme.EcdsaSecp256r1Sha256, content, signature) is { } problem) throw new InvalidOperationException(problem);
        });
        var sign = Time(() => key.SignData(content, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        return (verify, sign);
    }

    /// <summary>Context switches so far of every live thread of a process.</summary>
    private static long Switches(int pid)
    {
        long total = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                        total += long.Parse(line[(line.IndexOf(':') + 1)..].Trim());
            }
            catch (IOException)
            {
                // the thread ended between listing and reading
            }
        }
        return total;
    }

    /// <summary>The edge's side: its tenant client and key-call path, for one tenant whose only key server is the process measured.</summary>
    private sealed class Caller : IAsyncDisposable
    {
        private readonly ServiceProvider _services;
        private readonly ILoggerFactory _loggers;
        private readonly EdgeMetrics _metrics;
        private readonly EdgeProofSigner _signer;
        private readonly TenantClusterClients _clients;
        private readonly KeyServerClient _keys;
        private readonly KeyRequestContext _context;
        private readonly string _describeKey;
        private IKeyGrain? _describeGrain;

        private Caller(TenantKeyFolder keys, string gateway, string caPem, (string Certificate, string Key) identity)
        {
            _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
            _loggers = LoggerFactory.Create(l => l.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning).AddFilter("Orleans", LogLevel.Error));
            _metrics = new EdgeMetrics(_services.GetRequiredService<IMeterFactory>());
            var options = Options.Create(new EdgeOptions
            {
                EdgeId = "bench-edge",
                IdentityCertificate = identity.Certificate,
                IdentityKey = identity.Key,
                KeyCalls = { TenantConnectTimeout = TimeSpan.FromSeconds(10) },
            });
            var routes = OneTenant.Served(Tenant, HostName, Replica, gateway, caPem);
            _signer = new EdgeProofSigner(options, TimeProvider.System);
            _clients = new TenantClusterClients(null!, routes, options, _loggers, _metrics, TimeProvider.System);
            _keys = new KeyServerClient(_clients, options, _signer, _metrics, NullLogger<KeyServerClient>.Instance);
            _context = _keys.Context(Tenant, keys.EcdsaKeyId, HostName, "127.0.0.1");
            _describeKey = new KeyGrainKey(Tenant, Replica, keys.EcdsaKeyId).ToString();
        }

        /// <summary>Connects to the key server, retrying while it starts (up to 60 s), and waits until the edge session is open.</summary>
        public static async Task<Caller> ConnectAsync(TenantKeyFolder keys, string gateway, string caPem, (string Certificate, string Key) identity, KeylessProcess keyServer)
        {
            var caller = new Caller(keys, gateway, caPem, identity);
            try
            {
                await caller.OpenAsync(keyServer);
                return caller;
            }
            catch
            {
                await caller.DisposeAsync();
                throw;
            }
        }

        private async Task OpenAsync(KeylessProcess keyServer)
        {
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    var grains = await _clients.GrainsAsync(Tenant, timeout.Token);
                    _describeGrain = grains.GetGrain<IKeyGrain>(_describeKey);
                    if (await DescribeAsync() && await SignAsync()) break;
                }
                catch (Exception e) when (e is OrleansException or OperationCanceledException or TimeoutException)
                {
                }
                if (deadline.Elapsed > TimeSpan.FromSeconds(60) || keyServer.HasExited)
                    throw new InvalidOperationException($"the key server never answered:\n{keyServer.Output}");
                await Task.Delay(500);
            }
            // The first signed request starts an edge session in the background; until it is open requests carry signatures.
            while (SignsWithoutSession)
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new InvalidOperationException($"no edge session opened:\n{keyServer.Output}");
                await Task.Delay(50);
                await SignAsync();
            }
        }

        /// <summary>Whether requests still carry a signature rather than the edge session's HMAC.</summary>
        private bool SignsWithoutSession =>
            _signer.Sign(new KeyGrainKey(Tenant, Replica, _context.KeyId), new SignCertificateVerifyRequest(_context, SignatureScheme.EcdsaSecp256r1Sha256, CertificateVerifyContent()))?.Session is null;

        public async Task<bool> DescribeAsync() => (await _describeGrain!.DescribeAsync()).Status == KeyOperationStatus.Ok;

        public async Task<bool> SignAsync() =>
            (await _keys.PerformAsync(Replica, new SignCertificateVerifyRequest(_context, SignatureScheme.EcdsaSecp256r1Sha256, CertificateVerifyContent()))).IsOk;

        /// <summary>What a TLS 1.3 server signs (RFC 8446 §4.4.3), over a fresh random transcript hash.</summary>
        public static byte[] CertificateVerifyContent() =>
            [.. Enumerable.Repeat((byte)0x20, 64), .. "TLS 1.3, server CertificateVerify"u8, 0, .. RandomNumberGenerator.GetBytes(32)];

        public async ValueTask DisposeAsync()
        {
            await _clients.DisposeAsync();
            _signer.Dispose();
            _metrics.Dispose();
            _loggers.Dispose();
            await _services.DisposeAsync();
        }
    }
}
