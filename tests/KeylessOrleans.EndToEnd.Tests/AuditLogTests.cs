using System.Security.Cryptography;
using System.Text.Json;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.TestSupport;
using static KeylessOrleans.TestSupport.AuditLogFile;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>
/// The tenant's audit log through the real program: `keyless audit verify` names the first broken record, a key
/// server will not append to a broken log, and a real handshake leaves a record that verifies.
/// </summary>
public sealed class AuditLogTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly Xunit.Abstractions.ITestOutputHelper _output = output;
    private readonly TempDirectory _files = new("keyless-audit-e2e");

    private string Log(IEnumerable<string> lines) => Write(Path.Combine(_files.Path, $"{Guid.NewGuid():N}.log"), lines);

    [Fact]
    public async Task Verify_reports_an_intact_log_with_its_count_times_and_chain_head()
    {
        var lines = Chain(5);
        var (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", Log(lines));
        var head = Convert.ToHexStringLower(System.Buffers.Text.Base64Url.DecodeFromChars(JsonDocument.Parse(lines[^1]).RootElement.GetProperty("h").GetString()));
        Assert.Equal(0, exitCode);
        Assert.Equal($"ok: 5 records, first at 2026-01-02T03:04:05.000000Z, last at 2026-01-02T03:04:09.000000Z, chain head {head}", output.Split('\n')[0].Trim());
        Assert.Contains("checkpoints: 0, not authenticated", output);
    }

    [Fact]
    public async Task Verify_accepts_an_empty_log()
    {
        var (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", Log([]));
        Assert.Equal(0, exitCode);
        Assert.StartsWith("ok: 0 records", output);
    }

    public static TheoryData<string, int, string> Tampering() => new()
    {
        { "edit", 3, "hash mismatch: the record was edited" },
        { "delete", 2, "prev is not the hash of record 1: a record was deleted, inserted or moved here" },
        { "swap", 4, "prev is not the hash of record 3" },
        { "truncate", 5, "incomplete last line" },
    };

    [Theory]
    [MemberData(nameof(Tampering))]
    public async Task Verify_fails_at_the_record_that_was_tampered_with(string change, int record, string reason)
    {
        var lines = change switch
        {
            "edit" => EditField(Chain(5), record),
            "delete" => Delete(Chain(5), record),
            "swap" => Swap(Chain(5), record),
            _ => TruncateLast(Chain(5)),
        };
        var (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", Log(lines));
        Assert.Equal(1, exitCode);
        Assert.StartsWith($"broken at record {record} (line {record}): {reason}", output);
        Assert.Contains($"the {record - 1} records before it are intact", output);
    }

    [Fact]
    public async Task Verify_of_a_missing_file_is_a_usage_error()
    {
        var (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", Path.Combine(_files.Path, "nope.log"));
        Assert.Equal(2, exitCode);
        Assert.Contains("does not exist", output);
    }

    [Fact]
    public async Task A_key_server_refuses_to_append_to_a_broken_log()
    {
        var broken = Log(EditField(Chain(3), 2));
        var (exitCode, output) = await KeylessProcess.RunToEndAsync("keyserver", "--shared-cluster", "--tenant", "acme", "--keys", _files.Path,
            "--audit-log", broken, "--silo-port", $"{KeylessProcess.FreePort()}");
        Assert.Equal(2, exitCode);
        Assert.Contains($"audit log {broken} is broken at record 2 (line 2): hash mismatch", output);
    }

    [Fact]
    public async Task A_real_handshake_leaves_a_verifiable_record_naming_edge_sni_and_client()
    {
        const string host = "audit.example.test";
        using var ca = new TestCertificateAuthority();
        using var keys = new TenantKeyFolder(ca, [host]);
        var originPort = KeylessProcess.FreePort();
        var httpsPort = KeylessProcess.FreePort();
        var siloPort = KeylessProcess.FreePort();
        var tenants = _files.Write("tenants.json", JsonSerializer.Serialize(new
        {
            tenants = new[] { new { tenant = "shop", hostNames = new[] { host }, origin = new { host = "127.0.0.1", port = originPort } } },
        }));
        var caFile = _files.Write("ca.pem", PemEncoding.WriteString("CERTIFICATE", ca.Certificate.RawData));
        var auditLog = Path.Combine(_files.Path, "audit-{tenant}-{replica}.log");

        await using var origin = KeylessProcess.Start("origin", "--listen", $"127.0.0.1:{originPort}");
        await using var edge = KeylessProcess.Start("edge", "--shared-cluster", "--https-port", $"{httpsPort}", "--silo-port", $"{siloPort}",
            "--gateway-port", $"{KeylessProcess.FreePort()}", "--tenants", tenants, "--edge-id", "edge-audited");
        await edge.WaitForLineAsync("Edge listening for TLS", TimeSpan.FromSeconds(60));
        await using (var keyServer = KeylessProcess.Start("keyserver", "--shared-cluster", "--tenant", "shop", "--keys", keys.Path, "--audit-log", auditLog,
            "--silo-port", $"{KeylessProcess.FreePort()}", "--primary", $"127.0.0.1:{siloPort}"))
        {
            var served = await Poll.UntilAsync(async () => (await ExternalTool.CurlAsync(host, httpsPort, caFile)).ExitCode == 0, TimeSpan.FromSeconds(60));
            Assert.True(served, $"never served:\n{keyServer.Output}");
        } // stopped gracefully: its last records are written and synced

        var file = Path.Combine(_files.Path, "audit-shop-primary.log");
        var record = File.ReadAllLines(file).Select(l => JsonDocument.Parse(l).RootElement).Last(r => r.TryGetProperty("r", out var outcome) && outcome.GetString() == "Ok");
        Assert.Equal("edge-audited", record.GetProperty("e").GetString());
        Assert.Equal(host, record.GetProperty("sni").GetString());
        Assert.Equal("127.0.0.1", record.GetProperty("c").GetString());
        Assert.Equal("shop", record.GetProperty("tn").GetString());
        var (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", file);
        Assert.Equal(0, exitCode);
        Assert.Matches(@"^ok: \d+ records, first at ", output);
        Assert.Contains("authenticated with", output); // the key beside the log is used
    }

    [Fact]
    public async Task Verify_reports_a_tail_cut_off_after_the_shipped_head_and_a_checkpoint_forged_without_the_key()
    {
        var log = Path.Combine(_files.Path, "audit.log");
        var heads = Path.Combine(_files.Path, "heads.txt");
        await using (var writer = Writer(o => (o.Path, o.HeadsFile, o.CheckpointRecords) = (log, heads, 2)))
            for (var i = 0; i < 5; i++)
                await SignAsync(writer);

        var (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", log, "--heads", heads);
        Assert.Equal(0, exitCode);
        Assert.Contains("anchor met", output);

        var lines = File.ReadAllLines(log);
        File.WriteAllText(log, string.Concat(lines.Take(lines.Length - 3).Select(l => l + "\n"))); // the last operations and checkpoint gone
        (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", log, "--heads", heads);
        Assert.Equal(1, exitCode);
        Assert.StartsWith("ok: ", output); // the chain alone is intact…
        Assert.Contains($"cut off: the last line of {heads} says record {lines.Length - 1} exists", output); // …but its tail is gone

        var otherKey = Path.Combine(_files.Path, "other.key");
        AuditKey.Create(otherKey);
        (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", log, "--key", otherKey);
        Assert.Equal(1, exitCode);
        Assert.Contains("checkpoint HMAC does not match the key", output);
    }

    [Fact]
    public async Task Verify_walks_a_folder_of_rotated_compressed_files_as_one_chain_and_names_a_missing_one()
    {
        var folder = Path.Combine(_files.Path, "rotated");
        Directory.CreateDirectory(folder);
        var log = Path.Combine(folder, "audit-acme-primary.log");
        await using (var writer = Writer(o => (o.Path, o.RotateBytes) = (log, 2048)))
            for (var i = 0; i < 40; i++)
                await SignAsync(writer);
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(AuditLogFiles.Rotated(log) is { Count: >= 3 } files && files.All(f => f.Compressed)), TimeSpan.FromSeconds(20)));
        var chain = AuditLogFiles.Chain(log);

        var (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", folder);
        Assert.Equal(0, exitCode);
        Assert.Contains($"{log}: {chain.Count} file(s)", output);
        Assert.Contains($"files: {chain.Count} walked in order, each continuing the one before", output);
        Assert.Contains("authenticated with", output);

        // One rotated file alone, compressed: its first line names the file before it, and the key beside the live log is found.
        (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", chain[1]);
        Assert.Equal(0, exitCode);
        Assert.Matches(@"^ok: records \d+–\d+, first at ", output);
        Assert.Contains($"of {Path.GetFileName(chain[0])[..^3]}, which is not part of this walk", output);
        Assert.Contains($"authenticated with {log}.key", output);

        File.Delete(chain[1]);
        (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", folder);
        Assert.Equal(1, exitCode);
        Assert.Contains("a file between them is missing", output);
        Assert.Contains(Path.GetFileName(chain[2]), output);
    }

    [Fact]
    public async Task Verify_walks_a_folder_whose_key_server_rotates_compresses_and_deletes_files_meanwhile()
    {
        // A busy key server's log: a rotation every few records, each rotated file compressed and the oldest deleted
        // past retention in the background, while the tenant's security team walks the folder.
        var folder = Path.Combine(_files.Path, "busy");
        Directory.CreateDirectory(folder);
        var log = Path.Combine(folder, "audit-acme-primary.log");
        var writer = Writer(o => (o.Path, o.RotateBytes, o.CheckpointRecords, o.HeadsFile, o.RetainBytes) = (log, 2048, 2, Path.Combine(_files.Path, "heads.txt"), 16 * 1024));
        await using (writer)
        {
            using var stop = new CancellationTokenSource();
            var rotations = 0;
            var writing = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await SignAsync(writer);
                    await Task.Delay(1);
                }
            });
            try
            {
                Assert.True(await Poll.UntilAsync(() => Task.FromResult(AuditLogFiles.Rotated(log).Count >= 10), TimeSpan.FromSeconds(30)), "the log did not rotate");
                for (var i = 0; i < 6; i++)
                {
                    var before = AuditLogFiles.Rotated(log).Select(f => f.Path).ToHashSet();
                    var (exitCode, output) = await KeylessProcess.RunToEndAsync("audit", "verify", folder);
                    Assert.True(exitCode == 0, $"walk {i + 1}:\n{output}");
                    Assert.Contains("authenticated with", output);
                    if (!AuditLogFiles.Rotated(log).Select(f => f.Path).ToHashSet().SetEquals(before)) rotations++;
                }
            }
            finally
            {
                stop.Cancel();
                await writing;
            }
            _output.WriteLine($"{rotations} of 6 walks saw the folder change while they ran");
            Assert.True(rotations >= 3, $"only {rotations} of 6 walks overlapped a change of the folder: the test did not race the writer");
        }
    }

    private AuditLog Writer(Action<KeylessOrleans.KeyServer.Audit.AuditLogOptions> configure)
    {
        var options = new KeylessOrleans.KeyServer.Hosting.KeyServerOptions { Tenant = "acme", KeyDirectory = _files.Path };
        configure(options.AuditLog);
        return new AuditLog(Microsoft.Extensions.Options.Options.Create(options),
            new KeylessOrleans.KeyServer.Diagnostics.AuditLogMetrics(new NoMeters()), Microsoft.Extensions.Logging.Abstractions.NullLogger<AuditLog>.Instance);
    }

    private static ValueTask<KeylessOrleans.Keys.KeyOperationResult> SignAsync(AuditLog writer) =>
        writer.RecordAsync("sign_certificate_verify", new KeylessOrleans.Keys.KeyRequestContext("acme", new string('a', 64), "www.acme.test", "198.51.100.7", "edge-1"),
            [1, 2, 3], KeylessOrleans.Keys.KeyOperationResult.Success([1]));

    private sealed class NoMeters : System.Diagnostics.Metrics.IMeterFactory
    {
        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options) => new(options);

        public void Dispose() { }
    }

    public void Dispose() => _files.Dispose();
}
