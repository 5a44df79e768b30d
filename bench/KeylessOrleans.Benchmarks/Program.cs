using System.Security.Cryptography;
using KeylessOrleans.Benchmarks;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.KeyServer;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

// Usage: dotnet run -c Release --project bench/KeylessOrleans.Benchmarks -- [--seconds N] [--clients N] [--only TEXT] [--production-only | --reference-only] [--env NAME=VALUE]... [--keyless DLL] [--no-proofs]
//        dotnet run -c Release --project bench/KeylessOrleans.Benchmarks -- --hsm | --audit | --audit-writer | --delegation | --key-agreement
//        dotnet run -c Release --project bench/KeylessOrleans.Benchmarks -- --serve [--env NAME=VALUE]...   (bench/profile.sh: the production shape, kept up until SIGTERM)
//        dotnet run -c Release --project bench/KeylessOrleans.Benchmarks -- --tenant-clients [--count N] [--plain] [--hold SECONDS]
//        dotnet run -c Release --project bench/KeylessOrleans.Benchmarks -- --control-plane [--tenants N] [--changes N] [--propagations N] [--served N]   (needs redis-server)
//        dotnet run -c Release --project bench/KeylessOrleans.Benchmarks -- --rsa-timing [--count N] [--store pem|hsm|both] [--seed N]   (bench/rsa-timing.sh)
// The default run measures the production shape first (separate `keyless` processes, ProductionBenchmark), then the
// one-process reference rows (BenchCluster). --env sets a variable for the production shape's processes (both edges
// and the key server; e.g. DOTNET_gcServer=1), to try a runtime setting. --no-proofs runs the reference cluster
// without edge authentication, to see what proofs cost. --keyless runs another build of the `keyless` program in the
// production shape (bench/run.sh --ready-to-run: a ReadyToRun publish) instead of the one built with the benchmark.
// --only keeps the rows whose name contains TEXT (e.g. "resumed", "TLS 1.3", "bulk"): for profiling one path.
var seconds = ArgValue("--seconds", 6);
var clients = ArgValue("--clients", 4);
var only = Array.IndexOf(args, "--only") is var o and >= 0 && o + 1 < args.Length ? args[o + 1] : null;
bool Wanted(string row) => only is null || row.Contains(only, StringComparison.OrdinalIgnoreCase);
var environment = args.Select((a, i) => (a, i)).Where(p => p.a == "--env" && p.i + 1 < args.Length)
    .Select(p => args[p.i + 1].Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
if (Array.IndexOf(args, "--keyless") is var kd and >= 0 && kd + 1 < args.Length)
{
    KeylessProcess.ProgramPath = Path.GetFullPath(args[kd + 1]);
    Console.WriteLine($"keyless program: {KeylessProcess.ProgramPath}");
}
if (Array.IndexOf(args, "--local-key-edge") is var l and >= 0 && OperatingSystem.IsLinux())
{
    // The child process of the production shape: key folder, HTTPS port, origin port, admin port.
    return await LocalKeyEdgeProcess.RunAsync(args[l + 1], int.Parse(args[l + 2]), int.Parse(args[l + 3]), int.Parse(args[l + 4]));
}
if (args.Contains("--serve"))
{
    await ProductionBenchmark.ServeAsync(environment);
    return 0;
}
if (args.Contains("--rsa-timing"))
{
    // Timing evidence for RSA decryption's implicit rejection (docs/rsa-timing.md); not a test.
    var store = Array.IndexOf(args, "--store") is var s and >= 0 && s + 1 < args.Length ? args[s + 1] : "both";
    if (store is not ("pem" or "hsm" or "both")) throw new ArgumentException("--store is pem, hsm or both");
    if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the key server's RSA path is Linux only");
    RsaTiming.Run(ArgValue("--count", 100_000), store, ArgValue("--seed", Environment.TickCount));
    return 0;
}
if (args.Contains("--control-plane"))
{
    // The registry at 1,000, 10,000 and 100,000 tenants against a real Redis (docs/control-plane.md, "Measured").
    await ControlPlaneScale.RunAsync(ArgValue("--tenants", 100_000), ArgValue("--changes", 200), ArgValue("--propagations", 100), ArgValue("--served", 10_000));
    return 0;
}
if (args.Contains("--hsm"))
{
    HsmComparison.Run(seconds);
    return 0;
}
if (args.Contains("--delegation"))
{
    await DelegationComparison.RunAsync(seconds, clients);
    return 0;
}
if (args.Contains("--tenant-clients"))
{
    // What each connected tenant costs an edge (docs/tenant-clients.md); --plain: without mutual TLS; --hold: keep
    // every client connected that long after the last row (for a heap dump).
    await TenantClientCost.RunAsync(ArgValue("--count", 200), mutualTls: !args.Contains("--plain"), ArgValue("--hold", 0));
    return 0;
}
if (args.Contains("--key-calls"))
{
    // What one remote key call costs each process, and how much of it is the Orleans round trip (docs/benchmarks-production.md).
    await KeyCallCost.RunAsync(seconds, clients, environment);
    return 0;
}
if (args.Contains("--audit-writer"))
{
    using var folder = new TempDirectory("keyless-bench-audit");
    await AuditComparison.WriterCapacityAsync(folder.Path, seconds);
    return 0;
}
if (Array.IndexOf(args, "--key-agreement-client") is var k and >= 0)
{
    // The child process of --key-agreement: port, group, seconds, clients.
    return KeyAgreementCost.RunClient(int.Parse(args[k + 1]), int.Parse(args[k + 2]), int.Parse(args[k + 3]), int.Parse(args[k + 4]));
}
if (args.Contains("--key-agreement"))
{
    await KeyAgreementCost.RunAsync(seconds, clients);
    return 0;
}
if (args.Contains("--audit"))
{
    await AuditComparison.RunAsync(seconds);
    return 0;
}

using var ca = new TestCertificateAuthority("KeylessOrleans Bench CA");
using var keys = new TenantKeyFolder(ca, [BenchCluster.Host], withEd25519: true);
await using var origin = new BulkOrigin();
using var work = new TempDirectory("keyless-bench");
// What an operator would otherwise run: nginx holding the same keys, proxying to the same origin.
await using var nginx = await NginxServer.StartAsync(keys, origin.Port, work.Path);

Console.WriteLine($"# KeylessOrleans benchmark — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {seconds} s per row");
Console.WriteLine();
if (!args.Contains("--reference-only"))
    await ProductionBenchmark.RunAsync(keys, origin, nginx, work.Path, seconds, clients, Wanted, environment);
if (args.Contains("--production-only")) return 0;

// Reference: edges and key server as silos of this one process (no operator runs that), started only now so their
// background work does not share the cores with the production-shape rows.
Console.WriteLine("# Reference: edge and key server in one process (not how operators run it)");
Console.WriteLine();
using var identities = new ClusterIdentities("KeylessOrleans Bench cluster CA");
// Production security: the keyless edge proves itself with its cluster certificate on every key request.
var proofs = !args.Contains("--no-proofs");
await using var cluster = await BenchCluster.StartAsync(keys, origin.Port, handshakeThreads: 64, identities: proofs ? identities : null);

// 1. Key operations: through Orleans to the key grain vs. the same operation in-process.
Console.WriteLine($"## Key operations (in-process: one thread per core; keyless: 16 concurrent grain calls from the edge silo, {(proofs ? "each with an edge proof" : "edge proofs off")})");
Console.WriteLine();
Console.WriteLine("| operation | in-process ops/s | keyless ops/s | ratio | in-process p50/p99 ms | keyless p50/p99 ms |");
Console.WriteLine("|---|---|---|---|---|---|");
var client = cluster.KeylessEdgeServices.GetRequiredService<KeyServerClient>();
var local = cluster.KeyServerServices.GetRequiredService<KeyOperations>();
// Every request is new (fresh transcript hash / server_random): the key server refuses replays.
byte[] Content() => CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));
byte[] premaster = [0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
using var ecdhe = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
var point = ecdhe.ExportParameters(false).Q;
// A TLS 1.2 ServerKeyExchange as the edge sends it: fresh randoms (the key server refuses stale or repeated ones).
byte[] Ske() => ServerKeyExchangeParams.Build(TlsRandoms.Client(), TlsRandoms.Server(), ServerKeyExchangeParams.Secp256r1, [0x04, .. point.X!, .. point.Y!]);
var ed25519KeyId = KeyIds.FromSubjectPublicKeyInfo(keys.Ed25519!.SubjectPublicKeyInfo);
var ciphertext = keys.RsaPublic.Encrypt(premaster, RSAEncryptionPadding.Pkcs1);
var keyOps = new (string Name, Func<KeyOperationResult> Local, Func<Task<KeyOperationResult>> Remote)[]
{
    ("ECDSA P-256 sign", () => local.SignCertificateVerify(keys.EcdsaKeyId, SignatureScheme.EcdsaSecp256r1Sha256, Content()),
        () => client.PerformAsync("primary", new SignCertificateVerifyRequest(client.Context("bench", keys.EcdsaKeyId, BenchCluster.Host, null), SignatureScheme.EcdsaSecp256r1Sha256, Content()))),
    ("Ed25519 sign", () => local.SignCertificateVerify(ed25519KeyId, SignatureScheme.Ed25519, Content()),
        () => client.PerformAsync("primary", new SignCertificateVerifyRequest(client.Context("bench", ed25519KeyId, BenchCluster.Host, null), SignatureScheme.Ed25519, Content()))),
    ("RSA-2048 PSS sign", () => local.SignCertificateVerify(keys.RsaKeyId, SignatureScheme.RsaPssRsaeSha256, Content()),
        () => client.PerformAsync("primary", new SignCertificateVerifyRequest(client.Context("bench", keys.RsaKeyId, BenchCluster.Host, null), SignatureScheme.RsaPssRsaeSha256, Content()))),
    ("RSA-2048 PKCS#1 sign (TLS 1.2 SKE)", () => local.SignServerKeyExchange(keys.RsaKeyId, SignatureScheme.RsaPkcs1Sha256, Ske()),
        () => client.PerformAsync("primary", new SignServerKeyExchangeRequest(client.Context("bench", keys.RsaKeyId, BenchCluster.Host, null), SignatureScheme.RsaPkcs1Sha256, Ske()))),
    ("RSA-2048 decrypt + master secret", () => local.DeriveMasterSecret(keys.RsaKeyId, RsaKeyExchanges.Fresh(ciphertext)),
        () => client.PerformAsync("primary", new DeriveMasterSecretRequest(client.Context("bench", keys.RsaKeyId, BenchCluster.Host, null), RsaKeyExchanges.Fresh(ciphertext)))),
};
foreach (var (name, localOp, remoteOp) in keyOps.Where(op => Wanted(op.Name)))
{
    var inProcess = KeyOperationLoad.RunOnThreads(() => Check(localOp()), TimeSpan.FromSeconds(seconds));
    var keyless = await KeyOperationLoad.RunAsync(async () => Check(await remoteOp()), 16, TimeSpan.FromSeconds(seconds));
    Console.WriteLine($"| {name} | {inProcess.PerSecond:0} | {keyless.PerSecond:0} | {keyless.PerSecond / inProcess.PerSecond:0.00} | {inProcess.P50Ms:0.00} / {inProcess.P99Ms:0.00} | {keyless.P50Ms:0.00} / {keyless.P99Ms:0.00} |");
}
Console.WriteLine();

// 2. Full handshakes: keyless edge vs. the same edge signing in-process vs. nginx with the key, same openssl clients, same run.
Console.WriteLine($"## Full TLS handshakes ({clients} × openssl s_time -new; latency from the edge's own accept-to-finished histogram)");
Console.WriteLine();
Console.WriteLine("| handshake | in-process signer /s | keyless /s | nginx /s | keyless ÷ in-process | keyless ÷ nginx | in-process p50/p99 ms | keyless p50/p99 ms |");
Console.WriteLine("|---|---|---|---|---|---|---|---|");
var scenarios = HandshakeScenarios.Full;
// Warm both edges first (JIT tiers, TLS code paths, Orleans connections): otherwise the first row's first column
// pays the warm-up, which once made the in-process edge look slower than the keyless one.
foreach (var port in new[] { cluster.LocalPort, cluster.KeylessPort })
    foreach (var scenario in scenarios.Where(s => Wanted(s.Name)))
        await HandshakeLoad.RunAsync(port, scenario, clients, 1, work.Path);
foreach (var scenario in scenarios.Where(s => Wanted(s.Name)))
{
    var inProcess = await HandshakeLoad.RunAsync(cluster.LocalPort, scenario, clients, seconds, work.Path);
    var keyless = await HandshakeLoad.RunAsync(cluster.KeylessPort, scenario, clients, seconds, work.Path);
    var reference = await HandshakeLoad.RunAsync(nginx.Port, scenario, clients, seconds, work.Path);
    Console.WriteLine($"| {scenario.Name} | {inProcess.PerSecond:0} | {keyless.PerSecond:0} | {reference.PerSecond:0} | {keyless.PerSecond / inProcess.PerSecond:0.00} | {keyless.PerSecond / reference.PerSecond:0.00} | {inProcess.P50Ms:0.0} / {inProcess.P99Ms:0.0} | {keyless.P50Ms:0.0} / {keyless.P99Ms:0.0} |");
}
Console.WriteLine();

// 2b. Added latency: one client, one handshake after another, so the figure is the key call's cost and not queueing
// behind other clients on two saturated cores.
Console.WriteLine("## Added handshake latency at low load (1 × openssl s_time -new; edge accept-to-finished p50)");
Console.WriteLine();
Console.WriteLine("| handshake | in-process p50 ms | keyless p50 ms | added by keyless ms |");
Console.WriteLine("|---|---|---|---|");
foreach (var scenario in scenarios.Where(s => s.Name.StartsWith("TLS 1.3") && Wanted(s.Name)))
{
    var inProcess = await HandshakeLoad.RunAsync(cluster.LocalPort, scenario, 1, seconds, work.Path);
    var keyless = await HandshakeLoad.RunAsync(cluster.KeylessPort, scenario, 1, seconds, work.Path);
    Console.WriteLine($"| {scenario.Name} | {inProcess.P50Ms:0.00} | {keyless.P50Ms:0.00} | {keyless.P50Ms - inProcess.P50Ms:0.00} |");
}
Console.WriteLine();

// 3. Resumed handshakes (TLS 1.2 session tickets — s_time cannot turn them off — on both sides; BouncyCastle's server
//    has no TLS 1.3 resumption): no key operation at all.
Console.WriteLine($"## Resumed TLS 1.2 handshakes ({clients} × openssl s_time -reuse)");
Console.WriteLine();
Console.WriteLine("| handshake | keyless /s | nginx /s | keyless ÷ nginx |");
Console.WriteLine("|---|---|---|---|");
var resumedScenarios = HandshakeScenarios.Resumed;
// The resumption path has its own code to warm (ticket sealing and opening; JIT tiers take seconds on two busy
// cores): with 1 s of warm-up the first row still measured ~30 % fewer than the same row run later.
foreach (var scenario in resumedScenarios.Where(s => Wanted(s.Name)))
    await HandshakeLoad.RunAsync(cluster.KeylessPort, scenario, clients, 4, work.Path);
foreach (var scenario in resumedScenarios.Where(s => Wanted(s.Name)))
{
    var keyless = await HandshakeLoad.RunAsync(cluster.KeylessPort, scenario, clients, seconds, work.Path);
    var reference = await HandshakeLoad.RunAsync(nginx.Port, scenario, clients, seconds, work.Path);
    Console.WriteLine($"| {scenario.Name} | {keyless.PerSecond:0} | {reference.PerSecond:0} | {keyless.PerSecond / reference.PerSecond:0.00} |");
}
Console.WriteLine();

if (!Wanted("bulk")) return 0;

// 4. Bulk: a 64 MiB response from the same origin through the keyless edge and through nginx.
Console.WriteLine($"## Bulk throughput ({BulkOrigin.BulkBytes / (1024 * 1024)} MiB response over TLS 1.3, curl, median of 3)");
Console.WriteLine();
Console.WriteLine("| path | MB/s |");
Console.WriteLine("|---|---|");
var edgeBulk = await BulkDownload.MedianMegabytesPerSecondAsync(cluster.KeylessPort, 3);
var nginxBulk = await BulkDownload.MedianMegabytesPerSecondAsync(nginx.Port, 3);
Console.WriteLine($"| keyless edge → origin | {edgeBulk:0} |");
Console.WriteLine($"| nginx → origin | {nginxBulk:0} |");
Console.WriteLine($"| ratio keyless ÷ nginx | {edgeBulk / nginxBulk:0.00} |");
Console.WriteLine();
Console.WriteLine("Edges, key server and clients share this machine's cores; compare ratios within one run only.");
return 0;

static KeyOperationResult Check(KeyOperationResult result) =>
    result.IsOk ? result : throw new InvalidOperationException($"key operation failed: {result.Status} {result.Detail}");

int ArgValue(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], out var value) ? value : fallback;
}
