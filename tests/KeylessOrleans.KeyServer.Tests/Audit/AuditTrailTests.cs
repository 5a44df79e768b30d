using System.Buffers;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Tests.Audit;

/// <summary>
/// What makes the audit trail one a tenant's security team can rely on: keyed checkpoints nobody without the key can
/// forge, heads shipped off the host that reveal a cut-off tail, a key server that will not silently start over a
/// deleted log, and outputs released only once their record is on disk.
/// </summary>
public sealed class AuditTrailTests : IDisposable
{
    private static readonly byte[] Input = [1, 2, 3];
    private static readonly KeyOperationResult Signed = KeyOperationResult.Success([0xde, 0xad, 0xbe, 0xef]);

    private readonly TempDirectory _folder = new("keyless-audit");
    private readonly ListLogger<AuditLog> _logger = new();
    private readonly MeterFactory _meters = new();

    private string LogPath => Path.Combine(_folder.Path, "audit.log");

    private AuditLog Open(Action<AuditLogOptions>? configure = null, string? logPath = null)
    {
        var options = new KeyServerOptions { Tenant = "acme", Replica = "primary", KeyDirectory = _folder.Path };
        options.AuditLog.Path = logPath ?? LogPath;
        configure?.Invoke(options.AuditLog);
        return new AuditLog(Options.Create(options), new AuditLogMetrics(_meters), _logger);
    }

    private static KeyRequestContext Context() => new("acme", new string('a', 64), "www.acme.test", "198.51.100.7", "edge-1");

    private static async Task AppendAsync(AuditLog log, int count)
    {
        for (var i = 0; i < count; i++)
            Assert.Same(Signed, await log.RecordAsync("sign_certificate_verify", Context(), Input, Signed));
    }

    private static List<JsonElement> Lines(string path) => [.. File.ReadAllLines(path).Select(line => JsonDocument.Parse(line).RootElement)];

    private static string Op(JsonElement line) => line.GetProperty("op").GetString()!;

    private byte[] Key => AuditKey.Read(LogPath + ".key");

    [Fact]
    public async Task Checkpoints_verify_with_the_key_and_a_forged_one_is_reported()
    {
        await using (var log = Open(o => o.CheckpointRecords = 3)) await AppendAsync(log, 7);

        var result = AuditLogVerifier.VerifyFile(LogPath, Key);
        Assert.True(result.IsIntact, result.Break?.Reason);
        Assert.True(result.KeyChecked);
        // chain_start, checkpoint, then a checkpoint after every 3 operations, and one at stop
        Assert.Equal(["chain_start", "checkpoint", "sign_certificate_verify", "sign_certificate_verify", "sign_certificate_verify", "checkpoint",
            "sign_certificate_verify", "sign_certificate_verify", "sign_certificate_verify", "checkpoint", "sign_certificate_verify", "checkpoint"],
            Lines(LogPath).Select(Op));
        Assert.Equal(4, result.Checkpoints);
        Assert.Equal(0, result.Uncovered);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(LogPath + ".key"));

        // Someone who can write the file but lacks the key appends records and a checkpoint of their own making:
        // the unkeyed chain is consistent, the checkpoint is not.
        var forged = File.ReadAllLines(LogPath).ToList();
        var head = result.Head;
        var record = new ArrayBufferWriter<byte>();
        var line = new ArrayBufferWriter<byte>();
        AuditChain.WriteRecord(AuditLogFile.Record(13, DateTime.UtcNow), record);
        head = AuditChain.WriteLine(record.WrittenSpan, head, line);
        record.ResetWrittenCount();
        AuditChain.WriteCheckpoint(14, DateTime.UtcNow, "acme", "primary", 13, head, AuditChain.CheckpointMac(new byte[32], 13, head), record);
        AuditChain.WriteLine(record.WrittenSpan, head, line);
        File.WriteAllText(LogPath, string.Concat(forged.Select(l => l + "\n")) + Encoding.UTF8.GetString(line.WrittenSpan));

        Assert.True(AuditLogVerifier.VerifyFile(LogPath).IsIntact); // without the key, nothing shows
        var checkedWithKey = AuditLogVerifier.VerifyFile(LogPath, Key);
        Assert.Equal(14, checkedWithKey.Break?.Record);
        Assert.Contains("checkpoint HMAC does not match the key", checkedWithKey.Break!.Reason);
    }

    [Fact]
    public async Task A_checkpoint_follows_an_idle_interval_and_goes_to_the_heads_file()
    {
        var heads = Path.Combine(_folder.Path, "heads.txt");
        await using var log = Open(o => (o.CheckpointInterval, o.HeadsFile) = (TimeSpan.FromMilliseconds(200), heads));
        await AppendAsync(log, 2);

        // No more records come: the interval alone brings the checkpoint (chain_start's, then this one).
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(File.ReadAllLines(heads).Length == 2), TimeSpan.FromSeconds(10)),
            "no checkpoint after the interval");
        var lastLine = File.ReadAllLines(heads)[^1].Split(' ');
        Assert.Equal("acme/primary", lastLine[1]);
        Assert.Equal("4", lastLine[2]); // covers the second operation (records 3 and 4)
        var anchor = AuditHeadShipper.LastAnchor(heads)!;
        var check = AuditLogVerifier.VerifyFile(LogPath, Key, anchor);
        Assert.Equal(AuditAnchorStatus.Met, check.Anchor);
        Assert.Equal(lastLine[4], Convert.ToHexStringLower(check.LastCheckpoint!.Hmac));
    }

    [Fact]
    public async Task A_tail_cut_off_after_a_checkpoint_verifies_alone_but_not_against_the_shipped_head()
    {
        var heads = Path.Combine(_folder.Path, "heads.txt");
        await using (var log = Open(o => (o.CheckpointRecords, o.HeadsFile) = (4, heads))) await AppendAsync(log, 10);
        var lines = File.ReadAllLines(LogPath);
        var anchor = AuditHeadShipper.LastAnchor(heads)!;
        Assert.Equal(AuditAnchorStatus.Met, AuditLogVerifier.VerifyFile(LogPath, Key, anchor).Anchor);

        // Cut back to the second checkpoint, whole lines only: what someone hiding the last operations would do.
        var keep = lines.Select((l, i) => (l, i)).Where(x => x.l.Contains("\"op\":\"checkpoint\"")).ElementAt(1).i + 1;
        File.WriteAllText(LogPath, string.Concat(lines.Take(keep).Select(l => l + "\n")));

        var alone = AuditLogVerifier.VerifyFile(LogPath, Key);
        Assert.True(alone.IsIntact); // the file alone cannot tell
        Assert.Equal(0, alone.Uncovered);
        var anchored = AuditLogVerifier.VerifyFile(LogPath, Key, anchor);
        Assert.Equal(AuditAnchorStatus.CutOff, anchored.Anchor);
        Assert.Equal(keep, anchored.Records);
        Assert.True(anchor.Sequence > keep);
    }

    [Fact]
    public async Task A_deleted_log_stops_the_start_and_AllowNewChain_starts_a_chain_naming_the_one_it_replaces()
    {
        await using (var log = Open()) await AppendAsync(log, 3);
        var before = AuditLogVerifier.VerifyFile(LogPath, Key);
        File.Delete(LogPath);

        var error = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains($"audit log {LogPath} is missing or empty, but the key server's state", error.Message);
        Assert.Contains($"reached record {before.Records}", error.Message);
        Assert.Contains("AllowNewChain", error.Message);
        Assert.False(File.Exists(LogPath));

        await using (var log = Open(o => o.AllowNewChain = true)) await AppendAsync(log, 1);
        var after = AuditLogVerifier.VerifyFile(LogPath, Key);
        Assert.True(after.IsIntact, after.Break?.Reason);
        Assert.True(after.StartsChain);
        Assert.Equal(new AuditAnchor(before.Records, before.Head), after.Replaces);
        var first = Lines(LogPath)[0];
        Assert.Equal("chain_start", Op(first));
        Assert.Contains("is missing or empty", first.GetProperty("reason").GetString());
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("a new chain starts although"));

        // Once started, the new chain is the one the state knows: a plain restart continues it.
        await using (var log = Open()) await AppendAsync(log, 1);
        Assert.True(AuditLogVerifier.VerifyFile(LogPath, Key).IsIntact);
    }

    [Fact]
    public async Task A_log_cut_back_before_its_last_checkpoint_stops_the_start()
    {
        await using (var log = Open(o => o.CheckpointRecords = 2)) await AppendAsync(log, 6);
        var lines = File.ReadAllLines(LogPath);
        File.WriteAllText(LogPath, string.Concat(lines.Take(5).Select(l => l + "\n")));

        var error = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains($"audit log {LogPath} ends at record 5, but the key server's state", error.Message);
        Assert.Contains("its tail was cut off", error.Message);
        Assert.Equal(5, File.ReadAllLines(LogPath).Length); // evidence untouched

        await using (var log = Open(o => o.AllowNewChain = true)) { }
        var aside = Assert.Single(Directory.GetFiles(_folder.Path, "audit.log.broken-*"));
        Assert.Equal(5, File.ReadAllLines(aside).Length);
        Assert.Equal(lines.Length, AuditLogVerifier.VerifyFile(LogPath, Key).Replaces!.Sequence);
    }

    [Fact]
    public async Task A_full_disk_fails_operations_without_output_and_the_log_recovers_when_space_returns()
    {
        using var disk = SmallDisk.Mount(Path.Combine(_folder.Path, "disk"));
        var path = Path.Combine(disk.Path, "audit.log");
        var withheld = 0L;
        var writeErrors = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Only this test's meters: a listener hears every meter in the process, and other test classes run alongside.
            if ((instrument.Name is "keyless.keyserver.audit.withheld" or "keyless.keyserver.audit.write_errors") && _meters.Owns(instrument.Meter)) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name.EndsWith("withheld", StringComparison.Ordinal)) Interlocked.Add(ref withheld, value);
            else Interlocked.Add(ref writeErrors, value);
        });
        listener.Start();

        var released = 0;
        KeyOperationResult? refused = null;
        await using (var log = Open(o => (o.CheckpointRecords, o.CheckpointInterval) = (1_000_000, TimeSpan.FromHours(1)), path))
        {
            await AppendAsync(log, 1);
            released++;
            var filler = disk.Fill();

            // The log's last page may still have room for a record or two; the first that needs a new one fails.
            for (var i = 0; i < 50 && refused is null; i++)
            {
                var result = await log.RecordAsync("sign_certificate_verify", Context(), Input, Signed);
                if (result.IsOk) released++;
                else refused = result;
            }
            Assert.NotNull(refused);
            Assert.Equal(KeyOperationStatus.AuditFailed, refused.Status);
            Assert.Null(refused.Output);
            Assert.Equal(1, Interlocked.Read(ref withheld));
            Assert.True(Interlocked.Read(ref writeErrors) >= 1);
            Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("cannot be written or synced"));

            File.Delete(filler);
            await AppendAsync(log, 2); // the next batch simply works again
            released += 2;
            Assert.Contains(_logger.Entries, e => e.Message.Contains("is written again"));
        }

        var check = AuditLogVerifier.VerifyFile(path, AuditKey.Read(path + ".key"));
        Assert.True(check.IsIntact, check.Break?.Reason);
        // Exactly the operations whose output left; none for the one withheld.
        Assert.Equal(released, Lines(path).Count(l => Op(l) == "sign_certificate_verify"));
    }

    [Fact]
    public async Task Checkpoints_go_to_syslog_as_rfc5424_messages()
    {
        using var receiver = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)receiver.Client.LocalEndPoint!).Port;
        await using (var log = Open(o => o.HeadsSyslog = $"udp://127.0.0.1:{port}")) await AppendAsync(log, 1);

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var first = Encoding.UTF8.GetString((await receiver.ReceiveAsync(deadline.Token)).Buffer);
        var second = Encoding.UTF8.GetString((await receiver.ReceiveAsync(deadline.Token)).Buffer);
        Assert.StartsWith("<110>1 ", first);
        Assert.Contains("keyless-keyserver - audit-head [keyless@32473 tenant=\"acme\" replica=\"primary\" seq=\"1\"", first);
        var last = AuditLogVerifier.VerifyFile(LogPath, Key).LastCheckpoint!;
        Assert.Contains($"seq=\"{last.Covers}\" head=\"{Convert.ToHexStringLower(last.Head)}\" hmac=\"{Convert.ToHexStringLower(last.Hmac)}\"", second);
    }

    [Fact]
    public async Task Checkpoints_go_to_a_unix_datagram_syslog_socket()
    {
        var socketPath = Path.Combine(_folder.Path, "log.sock");
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(new UnixDomainSocketEndPoint(socketPath));
        await using (var log = Open(o => o.HeadsSyslog = $"unix:{socketPath}")) await AppendAsync(log, 1);

        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = await receiver.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
        var message = Encoding.UTF8.GetString(buffer, 0, received);
        Assert.StartsWith("<110>1 ", message);
        Assert.Contains("audit-head [keyless@32473 tenant=\"acme\" replica=\"primary\" seq=\"1\"", message);
    }

    [Fact]
    public async Task A_policy_change_is_recorded_with_the_policy_it_applies()
    {
        var perEdgeRate = 50.0;
        var settings = new KeyServerSettings(o => (o.Tenant, o.KeyDirectory, o.Access.PerEdgeRate) = ("acme", _folder.Path, perEdgeRate));
        await using (var log = Open())
        {
            using var policy = new KeyAccessPolicy(Options.Create(settings.Read()), settings, [], TimeProvider.System, new KeyServerMetrics(_meters),
                new ListLogger<KeyAccessPolicy>(), log);
            perEdgeRate = 123;
            policy.Reload();
            perEdgeRate = -1; // invalid: refused, and that is recorded too
            policy.Reload();
        }

        var changes = Lines(LogPath).Where(l => Op(l) == KeyAccessPolicy.PolicyChangeOperation).ToList();
        Assert.Equal(2, changes.Count);
        Assert.Equal("Applied", changes[0].GetProperty("r").GetString());
        Assert.Contains("rate limits 123/s per edge", changes[0].GetProperty("d").GetString());
        Assert.Equal("Refused", changes[1].GetProperty("r").GetString());
        Assert.Contains("rates and bursts must be positive", changes[1].GetProperty("d").GetString());
        Assert.True(AuditLogVerifier.VerifyFile(LogPath, Key).IsIntact);
    }

    [Fact]
    public async Task An_operation_that_threw_is_recorded_and_answered_with_a_typed_error()
    {
        KeyOperationResult result;
        await using (var log = Open())
            result = await log.RecordFailureAsync("sign_certificate_verify", Context(), Input, new InvalidOperationException("boom"));

        Assert.Equal(KeyOperationStatus.CryptoFailed, result.Status);
        Assert.Null(result.Output);
        var record = Assert.Single(Lines(LogPath), l => Op(l) == "sign_certificate_verify");
        Assert.Equal("CryptoFailed", record.GetProperty("r").GetString());
        Assert.Equal("threw System.InvalidOperationException", record.GetProperty("d").GetString());
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("threw"));
    }

    [Fact]
    public void Bad_checkpoint_key_and_shipping_settings_are_configuration_errors()
    {
        var options = new KeyServerOptions { Tenant = "acme", KeyDirectory = _folder.Path };
        options.AuditLog.Path = LogPath;
        (options.AuditLog.CheckpointRecords, options.AuditLog.CheckpointInterval) = (0, TimeSpan.Zero);
        (options.AuditLog.KeyPath, options.AuditLog.HeadsSyslog) = ("/nonexistent/audit.key", "tcp://127.0.0.1:514");

        var failures = new KeyServerOptionsValidator().Validate(null, options).Failures!;
        Assert.Contains(failures, f => f.StartsWith("Keyless:KeyServer:AuditLog:CheckpointRecords 0", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Keyless:KeyServer:AuditLog:CheckpointInterval", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("AuditLog:KeyPath '/nonexistent/audit.key': folder '/nonexistent' does not exist"));
        Assert.Contains(failures, f => f.Contains("AuditLog:HeadsSyslog 'tcp://127.0.0.1:514' is not udp://HOST:PORT or unix:PATH"));
    }

    public void Dispose()
    {
        _folder.Dispose();
        _meters.Dispose();
    }

    private sealed class MeterFactory : IMeterFactory
    {
        private readonly List<Meter> _created = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            lock (_created) _created.Add(meter);
            return meter;
        }

        public bool Owns(Meter meter)
        {
            lock (_created) return _created.Contains(meter);
        }

        public void Dispose()
        {
            lock (_created) foreach (var meter in _created) meter.Dispose();
        }
    }
}
