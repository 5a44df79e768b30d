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

/// <summary>
/// A log that stays bounded for a month unattended: rotation by size and age with the chain running on across files,
/// compression, retention that never deletes what was not shipped off the host, and a full disk that fails operations
/// and then heals — all with a folder that `keyless audit verify` walks as one chain.
/// </summary>
public sealed class AuditRotationTests : IDisposable
{
    private static readonly byte[] Input = [1, 2, 3];
    private static readonly KeyOperationResult Signed = KeyOperationResult.Success([0xde, 0xad, 0xbe, 0xef]);

    private readonly TempDirectory _folder = new("keyless-audit-rotation");
    private readonly ListLogger<AuditLog> _logger = new();
    private readonly MeterFactory _meters = new();

    private string LogPath => Path.Combine(_folder.Path, "audit.log");

    private string HeadsPath => Path.Combine(_folder.Path, "heads.txt");

    private AuditLog Open(Action<AuditLogOptions>? configure = null, TimeProvider? time = null, string? logPath = null)
    {
        var options = new KeyServerOptions { Tenant = "acme", Replica = "primary", KeyDirectory = _folder.Path };
        options.AuditLog.Path = logPath ?? LogPath;
        configure?.Invoke(options.AuditLog);
        Assert.Empty(Problems(options.AuditLog));
        return new AuditLog(Options.Create(options), new AuditLogMetrics(_meters), _logger, time);
    }

    private static KeyRequestContext Context() => new("acme", new string('a', 64), "www.acme.test", "198.51.100.7", "edge-1");

    private static async Task AppendAsync(AuditLog log, int count)
    {
        for (var i = 0; i < count; i++)
            Assert.Same(Signed, await log.RecordAsync("sign_certificate_verify", Context(), Input, Signed));
    }

    private byte[] Key => AuditKey.Read(LogPath + ".key");

    private static IEnumerable<string> Operations(IEnumerable<string> files) =>
        files.SelectMany(f =>
        {
            using var reader = new StreamReader(AuditLogFiles.OpenRead(f));
            var lines = new List<string>();
            while (reader.ReadLine() is { } line) lines.Add(line);
            return lines;
        }).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("op").GetString()!).Where(op => op == "sign_certificate_verify");

    [Fact]
    public async Task Size_rotation_continues_the_chain_across_compressed_files_that_verify_as_one()
    {
        await using (var log = Open(o => o.RotateBytes = 2048)) await AppendAsync(log, 60);

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(AuditLogFiles.Rotated(LogPath).All(f => f.Compressed)), TimeSpan.FromSeconds(20)),
            "rotated files were not compressed");
        var rotated = AuditLogFiles.Rotated(LogPath);
        Assert.True(rotated.Count >= 4, $"{rotated.Count} rotated files");
        Assert.All(rotated, f => Assert.EndsWith(".gz", f.Path));
        Assert.All(rotated, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f.Path)));

        var chain = AuditLogFiles.Chain(LogPath);
        var whole = AuditLogVerifier.VerifyFiles(chain, Key);
        Assert.True(whole.IsIntact, whole.Break?.Reason);
        Assert.Equal(chain.Count, whole.Files);
        Assert.Equal(1, whole.Chains);
        Assert.True(whole.StartsChain);
        Assert.Equal(0, whole.Uncovered);
        Assert.Equal(60, Operations(chain).Count()); // none lost, none doubled at a rotation
        Assert.Equal([LogPath], AuditLogFiles.LogsIn(_folder.Path));

        // Each file alone: the first starts the chain, every later one continues the one before it by name.
        for (var i = 0; i < chain.Count; i++)
        {
            var alone = AuditLogVerifier.VerifyFile(chain[i], Key);
            Assert.True(alone.IsIntact, alone.Break?.Reason);
            if (i == 0) Assert.Null(alone.ContinuesFrom);
            else Assert.Equal(Path.GetFileName(chain[i - 1]).Replace(".gz", ""), alone.ContinuesFile);
            Assert.True(alone.Checkpoints >= 1);
        }
        // A file rotated by size holds about RotateBytes: one batch (here one record) more at most.
        Assert.All(rotated, f =>
        {
            using var plain = AuditLogFiles.OpenRead(f.Path);
            var length = 0L;
            var buffer = new byte[8192];
            for (int n; (n = plain.Read(buffer)) > 0;) length += n;
            Assert.InRange(length, 2048, 2048 + 1024);
        });
    }

    [Fact]
    public async Task The_bytes_written_metric_adds_up_to_every_file_of_the_chain_before_compression()
    {
        var counted = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "keyless.keyserver.audit.bytes" && _meters.Owns(instrument.Meter)) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref counted, value));
        listener.Start();

        await using (var log = Open(o => o.RotateBytes = 2048)) await AppendAsync(log, 60);
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(AuditLogFiles.Rotated(LogPath).All(f => f.Compressed)), TimeSpan.FromSeconds(20)),
            "rotated files were not compressed");

        var chain = AuditLogFiles.Chain(LogPath);
        Assert.True(chain.Count >= 4, $"{chain.Count} files");
        var onDisk = chain.Sum(f =>
        {
            using var plain = AuditLogFiles.OpenRead(f);
            var length = 0L;
            var buffer = new byte[8192];
            for (int n; (n = plain.Read(buffer)) > 0;) length += n;
            return length;
        });
        Assert.Equal(onDisk, Interlocked.Read(ref counted));
    }

    [Fact]
    public async Task A_file_missing_from_the_middle_or_edited_breaks_the_walk_there()
    {
        await using (var log = Open(o => (o.RotateBytes, o.Compress) = (2048, false))) await AppendAsync(log, 40);
        var chain = AuditLogFiles.Chain(LogPath);
        Assert.True(chain.Count >= 4);

        var gap = AuditLogVerifier.VerifyFiles([.. chain.Where((_, i) => i != 1)], Key);
        Assert.False(gap.IsIntact);
        Assert.Contains("a file between them is missing", gap.Break!.Reason);
        Assert.Contains(Path.GetFileName(chain[2]), gap.Break.Reason);

        var lines = File.ReadAllLines(chain[2]).ToList();
        File.WriteAllLines(chain[2], AuditLogFile.EditField([.. lines.Select(l => l + "\n")], 3).Select(l => l.TrimEnd('\n')));
        var edited = AuditLogVerifier.VerifyFiles(chain, Key);
        Assert.False(edited.IsIntact);
        Assert.Contains("hash mismatch", edited.Break!.Reason);
        Assert.Equal(3, edited.Break.Line);
    }

    [Fact]
    public async Task Age_rotation_follows_the_clock()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using (var log = Open(o => (o.RotateBytes, o.RotateInterval, o.Compress) = (0, TimeSpan.FromHours(1), false), clock))
        {
            await AppendAsync(log, 3);
            clock.Advance(TimeSpan.FromMinutes(59));
            await AppendAsync(log, 1);
            Assert.Empty(AuditLogFiles.Rotated(LogPath));

            clock.Advance(TimeSpan.FromMinutes(2));
            await AppendAsync(log, 1); // the batch that finds the file an hour old rotates it first, then lands in the new one
            var rotated = Assert.Single(AuditLogFiles.Rotated(LogPath));
            Assert.Equal(clock.GetUtcNow().UtcDateTime.AddTicks(-(clock.GetUtcNow().UtcDateTime.Ticks % TimeSpan.TicksPerSecond)), rotated.Rotated);
            Assert.Equal(4, Operations([rotated.Path]).Count());
            Assert.Single(Operations([LogPath]));
        }
        Assert.Contains(_logger.Entries, e => e.Message.Contains("rotated after record"));
        var whole = AuditLogVerifier.VerifyFiles(AuditLogFiles.Chain(LogPath), Key);
        Assert.True(whole.IsIntact, whole.Break?.Reason);
    }

    [Fact]
    public async Task An_idle_live_file_rotates_when_it_comes_of_age_without_another_operation()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        // A checkpoint per record: the writer is idle as soon as the records are written.
        await using (var log = Open(o => (o.RotateBytes, o.RotateInterval, o.CheckpointRecords, o.Compress) = (0, TimeSpan.FromHours(1), 1, false), clock))
        {
            await AppendAsync(log, 3);
            clock.Advance(TimeSpan.FromMinutes(59));
            Assert.Empty(AuditLogFiles.Rotated(LogPath));

            clock.Advance(TimeSpan.FromMinutes(2));
            // The log line comes once the rotation is whole: the old file renamed and the next live file in place.
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(_logger.Entries.Any(e => e.Message.Contains("rotated after record"))), TimeSpan.FromSeconds(20)),
                "the idle live file did not rotate once it was an hour old");
            var rotated = Assert.Single(AuditLogFiles.Rotated(LogPath));
            Assert.Equal(3, Operations([rotated.Path]).Count());
            Assert.Empty(Operations([LogPath]));
        }
        Assert.Contains(_logger.Entries, e => e.Message.Contains("rotated after record"));
        var whole = AuditLogVerifier.VerifyFiles(AuditLogFiles.Chain(LogPath), Key);
        Assert.True(whole.IsIntact, whole.Break?.Reason);
    }

    [Fact]
    public async Task A_restart_continues_the_live_file_of_a_rotated_log()
    {
        await using (var log = Open(o => o.RotateBytes = 2048)) await AppendAsync(log, 20);
        await using (var log = Open(o => o.RotateBytes = 2048)) await AppendAsync(log, 20);
        var whole = AuditLogVerifier.VerifyFiles(AuditLogFiles.Chain(LogPath), Key);
        Assert.True(whole.IsIntact, whole.Break?.Reason);
        Assert.Equal(40, Operations(AuditLogFiles.Chain(LogPath)).Count());
        Assert.DoesNotContain(_logger.Entries, e => e.Message.Contains("a new chain starts"));
    }

    [Fact]
    public async Task A_rotation_cut_short_before_its_new_file_is_finished_at_the_next_start()
    {
        await using (var log = Open(o => o.Compress = false)) await AppendAsync(log, 3);
        // What a crash right after rotation's rename leaves: no live file, the newest rotated file ending where the state says.
        var last = AuditLogVerifier.VerifyFile(LogPath).Records;
        var rotated = AuditLogFiles.RotatedPath(LogPath, DateTime.UtcNow, last);
        File.Move(LogPath, rotated);

        await using (var log = Open(o => o.Compress = false)) await AppendAsync(log, 2);
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("a rotation stopped before its new file"));
        var whole = AuditLogVerifier.VerifyFiles(AuditLogFiles.Chain(LogPath), Key);
        Assert.True(whole.IsIntact, whole.Break?.Reason);
        Assert.Equal(2, whole.Files);
        Assert.Equal(5, Operations(AuditLogFiles.Chain(LogPath)).Count());

        // A live file deleted outright (its tail with it) is still refused: the state names a record no file holds.
        File.Delete(LogPath);
        var error = Assert.Throws<InvalidDataException>(() => Open(o => o.Compress = false));
        Assert.Contains("is missing or empty", error.Message);
    }

    [Fact]
    public async Task A_state_left_behind_by_a_rotation_is_checked_against_the_rotated_files()
    {
        await using (var log = Open(o => (o.RotateBytes, o.Compress) = (2048, false))) await AppendAsync(log, 30);
        var newest = AuditLogFiles.Rotated(LogPath)[^1];
        var itsEnd = AuditLogVerifier.VerifyFile(newest.Path, Key);
        Assert.Equal(newest.LastSequence, itsEnd.Records);
        var statePath = LogPath + ".state";
        var saved = File.ReadAllText(statePath);

        // The state was last saved before the rotation (its writes failed): it names a record inside the newest rotated
        // file, before the live file's first line. The start walks back through the rotated files and finds it there.
        var inside = itsEnd.LastCheckpoint!.Anchor;
        Assert.True(inside.Sequence < itsEnd.Records);
        new AuditState(LogPath, inside, DateTime.UtcNow).Write(statePath);
        await using (var log = Open(o => (o.RotateBytes, o.Compress) = (2048, false))) await AppendAsync(log, 1);
        Assert.True(AuditLogVerifier.VerifyFiles(AuditLogFiles.Chain(LogPath), Key).IsIntact);

        // A state naming that record with another hash: the files were replaced, and the start stops.
        new AuditState(LogPath, new AuditAnchor(inside.Sequence, new byte[32]), DateTime.UtcNow).Write(statePath);
        var error = Assert.Throws<InvalidDataException>(() => Open(o => (o.RotateBytes, o.Compress) = (2048, false)));
        Assert.Contains("the chain was replaced", error.Message);
        Assert.NotEqual(saved, File.ReadAllText(statePath));
    }

    [Fact]
    public void Rotated_files_sort_by_rotation_time_then_sequence_and_a_plain_copy_wins_over_its_gz()
    {
        var t = new DateTime(2026, 12, 4, 1, 2, 3, DateTimeKind.Utc);
        foreach (var name in new[] { AuditLogFiles.RotatedPath(LogPath, t.AddHours(1), 50), AuditLogFiles.RotatedPath(LogPath, t, 20) + ".gz",
                     AuditLogFiles.RotatedPath(LogPath, t, 10), AuditLogFiles.RotatedPath(LogPath, t.AddHours(1), 50) + ".gz", LogPath + ".broken-20261204T000000Z",
                     Path.Combine(_folder.Path, "other.log.20261204T010203Z-5") })
            File.WriteAllText(name, "x");
        var rotated = AuditLogFiles.Rotated(LogPath);
        Assert.Equal([10L, 20, 50], rotated.Select(f => f.LastSequence));
        Assert.Equal([false, true, false], rotated.Select(f => f.Compressed)); // an interrupted compression: the plain file counts
        Assert.True(AuditLogFiles.TryParseRotated(rotated[1].Path, out var live, out var parsed));
        Assert.Equal(LogPath, live);
        Assert.Equal(t, parsed.Rotated);
        Assert.Equal([LogPath, Path.Combine(_folder.Path, "other.log")], AuditLogFiles.LogsIn(_folder.Path));
    }

    [Fact]
    public async Task Retention_deletes_old_files_once_their_heads_were_shipped_and_the_rest_still_verifies()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using (var log = Open(o => (o.RotateBytes, o.RotateInterval, o.RetainFor, o.HeadsFile) = (0, TimeSpan.FromHours(1), TimeSpan.FromHours(3), HeadsPath), clock))
        {
            for (var hour = 0; hour < 6; hour++)
            {
                await AppendAsync(log, 2);
                clock.Advance(TimeSpan.FromMinutes(61));
            }
            await AppendAsync(log, 1); // the sixth rotation; files rotated more than 3 h ago go
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(AuditLogFiles.Rotated(LogPath) is { Count: 3 } files && files.All(f => f.Compressed)),
                TimeSpan.FromSeconds(20)), $"rotated files: {string.Join(", ", AuditLogFiles.Rotated(LogPath).Select(f => Path.GetFileName(f.Path)))}");
        }
        Assert.Equal(3, _logger.Entries.Count(e => e.Message.Contains("deleted by retention")));
        Assert.DoesNotContain(_logger.Entries, e => e.Message.Contains("is kept although"));

        // What is left verifies: its first file names the one retention removed, and a shipped head anchors the end.
        var chain = AuditLogFiles.Chain(LogPath);
        var rest = AuditLogVerifier.VerifyFiles(chain, Key, AuditHeadShipper.LastAnchor(HeadsPath));
        Assert.True(rest.IsIntact, rest.Break?.Reason);
        Assert.NotNull(rest.ContinuesFrom);
        Assert.Equal(AuditAnchorStatus.Met, rest.Anchor);
        Assert.Equal(7, Operations(chain).Count()); // 2 per hour for the 3 hours kept, and the last one
    }

    [Fact]
    public async Task Retention_by_size_keeps_files_whose_heads_were_never_shipped_and_says_so()
    {
        // Shipping fails (nobody listens on the socket): nothing is ever known to be off the host.
        var socket = Path.Combine(_folder.Path, "nobody.sock");
        await using (var log = Open(o => (o.RotateBytes, o.RetainBytes, o.Compress, o.HeadsSyslog) = (2048, 4096, false, $"unix:{socket}")))
        {
            await AppendAsync(log, 40);
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(_logger.Entries.Any(e => e.Message.Contains("is kept although retention would delete it"))),
                TimeSpan.FromSeconds(20)), "no warning about a file kept");
        }
        var kept = _logger.Entries.First(e => e.Message.Contains("is kept although"));
        Assert.Equal(LogLevel.Warning, kept.Level);
        Assert.Contains("no checkpoint has been shipped off the host yet", kept.Message);
        Assert.DoesNotContain(_logger.Entries, e => e.Message.Contains("deleted by retention"));
        var whole = AuditLogVerifier.VerifyFiles(AuditLogFiles.Chain(LogPath), Key);
        Assert.True(whole.IsIntact, whole.Break?.Reason);
        Assert.True(whole.StartsChain); // all of it is still there
        Assert.Equal(40, Operations(AuditLogFiles.Chain(LogPath)).Count());
    }

    [Fact]
    public async Task Retention_by_size_with_shipped_heads_bounds_the_folder()
    {
        await using (var log = Open(o => (o.RotateBytes, o.RetainBytes, o.HeadsFile) = (2048, 8192, HeadsPath)))
        {
            await AppendAsync(log, 200);
            // Retention runs at each rotation: the rotated files then fit beside the (young) live file; the live file grows on till the next.
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(
                    AuditLogFiles.Rotated(LogPath) is var files && files.All(f => f.Compressed) && files.Sum(f => f.Length) <= 8192),
                TimeSpan.FromSeconds(20)), "the rotated files were not cut back to RetainBytes");
        }
        Assert.Contains(_logger.Entries, e => e.Message.Contains("deleted by retention"));
        Assert.DoesNotContain(_logger.Entries, e => e.Message.Contains("is kept although"));
        var rest = AuditLogVerifier.VerifyFiles(AuditLogFiles.Chain(LogPath), Key, AuditHeadShipper.LastAnchor(HeadsPath));
        Assert.True(rest.IsIntact, rest.Break?.Reason);
        Assert.Equal(AuditAnchorStatus.Met, rest.Anchor);
        Assert.NotNull(rest.ContinuesFrom);
    }

    [Fact]
    public async Task A_full_disk_fails_operations_across_rotations_and_the_log_heals_when_space_returns()
    {
        using var disk = SmallDisk.Mount(Path.Combine(_folder.Path, "disk"));
        var path = Path.Combine(disk.Path, "audit.log");
        var withheld = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Only this test's meters: a listener hears every meter in the process, and other test classes run alongside.
            if (instrument.Name == "keyless.keyserver.audit.withheld" && _meters.Owns(instrument.Meter)) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref withheld, value));
        listener.Start();

        var released = 0;
        var refused = 0;
        await using (var log = Open(o => (o.RotateBytes, o.Compress) = (2048, true), logPath: path))
        {
            await AppendAsync(log, 10);
            released += 10;
            var filler = disk.Fill();
            for (var i = 0; i < 40; i++)
            {
                var result = await log.RecordAsync("sign_certificate_verify", Context(), Input, Signed);
                if (result.IsOk)
                {
                    released++;
                    continue;
                }
                Assert.Equal(KeyOperationStatus.AuditFailed, result.Status);
                Assert.Null(result.Output);
                refused++;
            }
            Assert.True(refused > 0, "the disk never filled up");
            Assert.Equal(refused, Interlocked.Read(ref withheld));
            Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("cannot be written or synced"));

            File.Delete(filler);
            await AppendAsync(log, 30); // rotations resume, compression catches up
            released += 30;
            Assert.Contains(_logger.Entries, e => e.Message.Contains("is written again"));
        }
        var chain = AuditLogFiles.Chain(path);
        var whole = AuditLogVerifier.VerifyFiles(chain, AuditKey.Read(path + ".key"));
        Assert.True(whole.IsIntact, whole.Break?.Reason);
        Assert.True(chain.Count >= 3, $"{chain.Count} files");
        Assert.Equal(released, Operations(chain).Count()); // exactly the operations whose output left
        Assert.Empty(Directory.GetFiles(disk.Path, "*.tmp"));
    }

    [Fact]
    public void Rotation_and_retention_settings_are_validated()
    {
        var options = new AuditLogOptions { Path = LogPath, RotateBytes = 10, RotateInterval = TimeSpan.FromSeconds(5), RetainFor = TimeSpan.FromDays(30) };
        var problems = Problems(options);
        Assert.Contains(problems, p => p.StartsWith("Keyless:KeyServer:AuditLog:RotateBytes 10", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Keyless:KeyServer:AuditLog:RotateInterval", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("delete only files whose heads were shipped off the host: set Keyless:KeyServer:AuditLog:HeadsFile"));
        options = new AuditLogOptions { Path = LogPath, RotateBytes = 0, RotateInterval = TimeSpan.Zero, RetainBytes = 1 << 20, HeadsFile = HeadsPath };
        Assert.Contains(Problems(options), p => p.Contains("nothing is ever rotated"));
    }

    private static List<string> Problems(AuditLogOptions options) =>
        [.. new AuditLogOptionsValidator("acme", "primary").Validate(null, options).Failures ?? []];

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
