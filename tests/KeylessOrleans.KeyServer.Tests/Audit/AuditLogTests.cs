using System.Diagnostics.Metrics;
using System.Text.Json;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Tests.Audit;

/// <summary>The key server's writer: appends a verifiable chain, continues it across restarts, refuses what it cannot continue.</summary>
public sealed class AuditLogTests : IDisposable
{
    private static readonly byte[] Input = [1, 2, 3];
    private static readonly KeyOperationResult Signed = KeyOperationResult.Success([0xde, 0xad, 0xbe, 0xef]);

    private readonly TempDirectory _folder = new("keyless-audit");
    private readonly ListLogger<AuditLog> _logger = new();

    private string LogPath => Path.Combine(_folder.Path, "audit.log");

    private AuditLog Open(Action<AuditLogOptions>? configure = null)
    {
        var options = new KeyServerOptions { Tenant = "acme", Replica = "primary", KeyDirectory = _folder.Path };
        options.AuditLog.Path = LogPath;
        configure?.Invoke(options.AuditLog);
        return new AuditLog(Options.Create(options), new AuditLogMetrics(new TestMeterFactory()), _logger);
    }

    private static KeyRequestContext Context(string? serverName = "www.acme.test") =>
        new("acme", new string('a', 64), serverName, "198.51.100.7", "edge-1");

    private static async Task AppendAsync(AuditLog log, int count)
    {
        for (var i = 0; i < count; i++)
            Assert.Same(Signed, await log.RecordAsync("sign_certificate_verify", Context(), Input, Signed));
    }

    private List<JsonElement> Lines() =>
        [.. File.ReadAllLines(LogPath).Select(line => JsonDocument.Parse(line).RootElement)];

    /// <summary>The key operations' records: without the chain's own lines (chain_start, checkpoints).</summary>
    private List<JsonElement> Records() =>
        [.. Lines().Where(r => r.GetProperty("op").GetString() is not (AuditChain.CheckpointOperation or AuditChain.ChainStartOperation))];

    [Fact]
    public async Task Each_operation_is_one_record_with_a_digest_of_its_input_and_never_its_output()
    {
        await using (var log = Open())
        {
            await AppendAsync(log, 2);
            await log.RecordAsync("decrypt_premaster", Context(serverName: null), Input,
                KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, "refused"));
        }

        var records = Records();
        Assert.Equal(3, records.Count);
        var first = records[0];
        Assert.Equal(3, first.GetProperty("n").GetInt64()); // after chain_start and its checkpoint
        Assert.Equal("acme", first.GetProperty("tn").GetString());
        Assert.False(first.TryGetProperty("replica", out _)); // the chain's own lines name it
        Assert.Equal("edge-1", first.GetProperty("e").GetString());
        Assert.Equal(new string('a', 64), first.GetProperty("k").GetString());
        Assert.Equal("www.acme.test", first.GetProperty("sni").GetString());
        Assert.Equal("198.51.100.7", first.GetProperty("c").GetString());
        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.SHA256.HashData(Input)), first.GetProperty("in").GetString());
        Assert.Equal("Ok", first.GetProperty("r").GetString());
        Assert.True(DateTime.UtcNow - first.GetProperty("t").GetDateTime().ToUniversalTime() < TimeSpan.FromMinutes(1));
        Assert.Equal("decrypt_premaster", records[2].GetProperty("op").GetString());
        Assert.Equal(JsonValueKind.Null, records[2].GetProperty("sni").ValueKind);
        Assert.Equal("InvalidRequest", records[2].GetProperty("r").GetString());
        Assert.DoesNotContain("deadbeef", File.ReadAllText(LogPath), StringComparison.OrdinalIgnoreCase);
        Assert.True(AuditLogVerifier.VerifyFile(LogPath).IsIntact);
    }

    [Fact]
    public async Task A_restarted_key_server_continues_the_chain_of_its_file()
    {
        await using (var log = Open()) await AppendAsync(log, 2);
        await using (var log = Open()) await AppendAsync(log, 3);

        // chain_start, checkpoint, 2 operations, checkpoint at stop | 3 operations, checkpoint at stop
        var result = AuditLogVerifier.VerifyFile(LogPath);
        Assert.True(result.IsIntact, result.Break?.Reason);
        Assert.Equal(9, result.Records);
        Assert.Equal([3L, 4, 6, 7, 8], Records().Select(r => r.GetProperty("n").GetInt64()));
        Assert.Contains(_logger.Entries, e => e.Message.Contains("5 records verified, continuing after chain head"));
    }

    [Fact]
    public void The_file_is_created_readable_by_its_owner_only()
    {
        using (Open()) { }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(LogPath));
    }

    [Fact]
    public void A_broken_file_stops_the_start_naming_the_record()
    {
        AuditLogFile.Write(LogPath, AuditLogFile.EditField(AuditLogFile.Chain(4), 2));
        var error = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains($"audit log {LogPath} is broken at record 2 (line 2): hash mismatch", error.Message);
        Assert.Contains("IfBroken", error.Message);
        Assert.Equal(string.Concat(AuditLogFile.EditField(AuditLogFile.Chain(4), 2)), File.ReadAllText(LogPath)); // evidence untouched
    }

    [Fact]
    public async Task With_IfBroken_MoveAside_a_broken_file_is_kept_aside_and_a_new_chain_starts()
    {
        var broken = string.Concat(AuditLogFile.TruncateLast(AuditLogFile.Chain(3)));
        File.WriteAllText(LogPath, broken);
        await using (var log = Open(o => o.IfBroken = AuditLogRecovery.MoveAside)) await AppendAsync(log, 1);

        var aside = Assert.Single(Directory.GetFiles(_folder.Path, "audit.log.broken-*"));
        Assert.Equal(broken, File.ReadAllText(aside));
        Assert.True(AuditLogVerifier.VerifyFile(LogPath).IsIntact);
        Assert.Single(Records());
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("broken at record 3 (line 3)") && e.Message.Contains(aside));
    }

    [Fact]
    public void A_second_writer_on_the_same_file_is_refused()
    {
        using var first = Open();
        var error = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains("in use by another process", error.Message);
    }

    [Fact]
    public async Task Every_output_that_leaves_has_its_record_even_when_the_queue_overflows()
    {
        // A tiny queue and no waiting for room: 2000 operations at once must outrun the writer.
        KeyOperationResult[] results;
        await using (var log = Open(o => (o.QueueCapacity, o.QueueFullWait) = (16, TimeSpan.Zero)))
            results = await Task.WhenAll(Enumerable.Range(0, 2000).Select(_ => log.RecordAsync("sign_certificate_verify", Context(), Input, Signed).AsTask()));
        var withheld = results.Where(r => !r.IsOk).ToList();
        Assert.True(withheld.Count > 0, "the queue never overflowed: the test proves nothing");
        Assert.All(withheld, r =>
        {
            Assert.Equal(KeyOperationStatus.AuditFailed, r.Status);
            Assert.Null(r.Output);
        });
        Assert.True(AuditLogVerifier.VerifyFile(LogPath).IsIntact);
        Assert.Equal(results.Count(r => r.IsOk), Records().Count);
        Assert.Contains(_logger.Entries, e => e.Message.Contains("withheld") && e.Message.Contains("queue_full"));
    }

    [Fact]
    public async Task Fields_from_the_edge_are_capped_and_made_valid_text()
    {
        await using (var log = Open())
        {
            await log.RecordAsync("sign_certificate_verify", Context(serverName: new string('x', 10_000)), Input, Signed);
            await log.RecordAsync("sign_certificate_verify", Context(serverName: "bad\uD800name"), Input, Signed); // a lone surrogate
            await AppendAsync(log, 1); // the writer survived
        }
        var records = Records();
        Assert.Equal(3, records.Count);
        Assert.Equal(AuditLog.MaxFieldLength, records[0].GetProperty("sni").GetString()!.Length);
        Assert.Equal("bad\uFFFDname", records[1].GetProperty("sni").GetString());
        Assert.True(AuditLogVerifier.VerifyFile(LogPath).IsIntact);
    }

    [Fact]
    public async Task Switched_off_it_writes_nothing_and_says_so()
    {
        await using (var log = Open(o => o.Enabled = false))
            Assert.Same(Signed, await log.RecordAsync("sign_certificate_verify", Context(), Input, Signed));
        Assert.False(File.Exists(LogPath));
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Audit log is off"));
    }

    [Theory]
    [InlineData("/nonexistent/audit.log", "does not exist")]
    [InlineData("/proc/audit.log", "not writable")]
    [InlineData("", "is empty")]
    public void An_unusable_path_is_a_configuration_error(string path, string problem)
    {
        var options = new KeyServerOptions { Tenant = "acme", KeyDirectory = _folder.Path };
        options.AuditLog.Path = path;
        var result = new KeyServerOptionsValidator().Validate(null, options);
        Assert.Contains(result.Failures!, f => f.StartsWith("Keyless:KeyServer:AuditLog:Path", StringComparison.Ordinal) && f.Contains(problem));
    }

    [Fact]
    public void The_default_path_names_tenant_and_replica_in_the_working_directory() =>
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "keyless-audit-acme-r2.log"), new AuditLogOptions().ResolvePath("acme", "r2"));

    public void Dispose() => _folder.Dispose();

    private sealed class TestMeterFactory : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose() { }
    }
}
