using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// The same key operations through the cluster to two replicas of one tenant in the same run: "primary" without an
/// audit log, "audited" with one (queue, background writer, fsync every 100 ms). The two alternate in one-second
/// slices (which goes first alternates too), so load from elsewhere on a shared machine falls on both alike.
/// </summary>
internal static class AuditComparison
{
    public static async Task RunAsync(int seconds)
    {
        using var ca = new TestCertificateAuthority("KeylessOrleans Bench CA");
        using var keys = new TenantKeyFolder(ca, [BenchCluster.Host]);
        await using var origin = new TestOrigin();
        using var audit = new TempDirectory("keyless-bench-audit");
        var cluster = await BenchCluster.StartAsync(keys, origin.Port, handshakeThreads: 64, auditLogFolder: audit.Path);
        try
        {
            await RowsAsync(cluster, keys, seconds);
        }
        finally
        {
            await cluster.DisposeAsync(); // the audited replica writes and syncs its last records
        }
        var file = Directory.GetFiles(audit.Path, "audit-*.log").Single();
        var check = AuditLogVerifier.VerifyFile(file);
        Console.WriteLine();
        Console.WriteLine($"Audit log after the run: {check.Records} records, {new FileInfo(file).Length / Math.Max(1, check.Records)} bytes each, chain {(check.IsIntact ? "intact" : "BROKEN")}.");
        await WriterCapacityAsync(audit.Path, seconds);
    }

    /// <summary>
    /// The writer alone, as key operations use it: N concurrent loops each record an operation and wait for the
    /// answer (which, with durable records, comes after the record's batch is written and fsynced). Records/s and the
    /// latency one record adds to an operation, per concurrency.
    /// </summary>
    public static async Task WriterCapacityAsync(string folder, int seconds)
    {
        Console.WriteLine($"## Audit writer alone (records/s; each loop waits for its answer; {seconds} s per row, file on {folder})");
        Console.WriteLine();
        Console.WriteLine("| concurrent operations | records/s | p50 / p99 ms per record |");
        Console.WriteLine("|---|---|---|");
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var context = new KeyRequestContext("bench", new string('a', 64), BenchCluster.Host, "192.0.2.1", "keyless-edge");
        var input = RandomNumberGenerator.GetBytes(130);
        var signed = KeyOperationResult.Success(RandomNumberGenerator.GetBytes(72));
        foreach (var concurrency in (int[])[1, 16, 64, 256])
        {
            var options = new KeyServerOptions { Tenant = "bench", Replica = $"capacity{concurrency}", KeyDirectory = folder };
            options.AuditLog.Path = Path.Combine(folder, $"capacity-{concurrency}.log");
            options.AuditLog.QueueFullWait = TimeSpan.FromSeconds(5); // measure the writer, never withhold
            LoadResult result;
            await using (var log = new AuditLog(Options.Create(options), new AuditLogMetrics(meters.GetRequiredService<IMeterFactory>()), NullLogger<AuditLog>.Instance))
                result = await KeyOperationLoad.RunAsync(async () => Check(await log.RecordAsync("sign_certificate_verify", context, input, signed)),
                    concurrency, TimeSpan.FromSeconds(seconds));
            Console.WriteLine($"| {concurrency} | {result.PerSecond:0} | {result.P50Ms:0.000} / {result.P99Ms:0.000} |");
        }
    }

    private static async Task RowsAsync(BenchCluster cluster, TenantKeyFolder keys, int seconds)
    {
        Console.WriteLine($"## Key operations with and without the audit log (16 concurrent grain calls from the edge silo, {Environment.ProcessorCount} cores, {seconds} × 1 s slices each, alternating)");
        Console.WriteLine();
        Console.WriteLine("| operation | no audit ops/s | audit ops/s | ratio | no audit p50/p99 ms | audit p50/p99 ms |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var client = cluster.KeylessEdgeServices.GetRequiredService<KeyServerClient>();
        // Every request is new (the key server refuses replays).
        byte[] Content() => CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));
        byte[] premaster = [0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
        var ciphertext = keys.RsaPublic.Encrypt(premaster, RSAEncryptionPadding.Pkcs1);
        KeyRequestContext Context(string keyId) => client.Context("bench", keyId, BenchCluster.Host, "192.0.2.1");
        var operations = new (string Name, Func<string, Task<KeyOperationResult>> Call)[]
        {
            ("ECDSA P-256 sign", replica => client.PerformAsync(replica, new SignCertificateVerifyRequest(Context(keys.EcdsaKeyId), SignatureScheme.EcdsaSecp256r1Sha256, Content()))),
            ("RSA-2048 PSS sign", replica => client.PerformAsync(replica, new SignCertificateVerifyRequest(Context(keys.RsaKeyId), SignatureScheme.RsaPssRsaeSha256, Content()))),
            ("RSA-2048 decrypt + master secret", replica => client.PerformAsync(replica, new DeriveMasterSecretRequest(Context(keys.RsaKeyId), RsaKeyExchanges.Fresh(ciphertext)))),
        };
        foreach (var (name, call) in operations)
        {
            var plain = new List<LoadResult>();
            var withAudit = new List<LoadResult>();
            for (var slice = 0; slice < seconds; slice++)
            {
                foreach (var replica in slice % 2 == 0 ? ["primary", "audited"] : (string[])["audited", "primary"])
                {
                    var result = await KeyOperationLoad.RunAsync(async () => Check(await call(replica)), 16, TimeSpan.FromSeconds(1));
                    (replica == "primary" ? plain : withAudit).Add(result);
                }
            }
            double Mean(List<LoadResult> r) => r.Average(x => x.PerSecond);
            double Median(List<LoadResult> r, Func<LoadResult, double> f) => r.Select(f).Order().ElementAt(r.Count / 2);
            Console.WriteLine($"| {name} | {Mean(plain):0} | {Mean(withAudit):0} | {Mean(withAudit) / Mean(plain):0.00} | " +
                $"{Median(plain, x => x.P50Ms):0.00} / {Median(plain, x => x.P99Ms):0.00} | {Median(withAudit, x => x.P50Ms):0.00} / {Median(withAudit, x => x.P99Ms):0.00} |");
        }
    }

    private static KeyOperationResult Check(KeyOperationResult result) =>
        result.IsOk ? result : throw new InvalidOperationException($"key operation failed: {result.Status} {result.Detail}");
}
