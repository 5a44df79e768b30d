using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Cluster.Storage;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>
/// Grain state kept in files: it reads back in any process, a stale writer is refused, and no reader ever sees a
/// state half written.
/// </summary>
public sealed class FileGrainStorageTests : IDisposable
{
    private static readonly IActivatorProvider Activators =
        new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<IActivatorProvider>();

    private readonly TempDirectory _folder = new("keyless-state");

    public void Dispose() => _folder.Dispose();

    /// <summary>A storage on the test folder; two of them stand for two processes sharing it.</summary>
    private FileGrainStorage Storage() => new("test",
        new FileGrainStorageOptions
        {
            Directory = _folder.Path,
            GrainStorageSerializer = new SystemTextJsonGrainStorageSerializer(
                Options.Create(new SystemTextJsonGrainStorageSerializerOptions())),
        },
        Activators, NullLogger<FileGrainStorage>.Instance);

    private static GrainId Grain(string key) => GrainId.Create("test-grain", key);

    [Fact]
    public async Task A_written_state_reads_back_with_its_etag_in_another_storage_on_the_same_folder()
    {
        var written = new GrainState<Note>(new Note { Text = "acme", Numbers = [1, 2, 3] });
        await Storage().WriteStateAsync("registry", Grain("default"), written);

        var read = new GrainState<Note>();
        await Storage().ReadStateAsync("registry", Grain("default"), read);

        Assert.NotNull(written.ETag);
        Assert.True(written.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.True(read.RecordExists);
        Assert.Equal("acme", read.State!.Text);
        Assert.Equal([1, 2, 3], read.State!.Numbers);
    }

    [Fact]
    public async Task A_state_never_written_reads_as_new_without_etag()
    {
        var read = new GrainState<Note>(new Note { Text = "left over" }) { ETag = "stale", RecordExists = true };

        await Storage().ReadStateAsync("registry", Grain("nobody"), read);

        Assert.Equal("", read.State!.Text);
        Assert.Null(read.ETag);
        Assert.False(read.RecordExists);
    }

    [Theory]
    [InlineData("default")]
    [InlineData("../../etc/passwd")]
    [InlineData("tenant/with/slashes and spaces")]
    [InlineData("ünïcødé-名前")]
    [InlineData("*.acme.test")]
    public async Task Keys_of_any_shape_become_hex_file_names_in_one_of_256_sub_folders(string key)
    {
        var state = new GrainState<Note>(new Note { Text = key });
        await Storage().WriteStateAsync("registry", Grain(key), state);

        var path = StateFile.PathOf(_folder.Path, "registry", Grain(key));
        var name = Path.GetFileNameWithoutExtension(path);
        Assert.Equal(Path.GetFullPath(_folder.Path), Path.GetDirectoryName(Path.GetDirectoryName(path)));
        Assert.Matches("^[0-9a-f]{64}$", name);
        Assert.Equal(name[..2], Path.GetFileName(Path.GetDirectoryName(path)));
        Assert.Equal([path], Directory.EnumerateFiles(_folder.Path, "*", SearchOption.AllDirectories));

        var read = new GrainState<Note>();
        await Storage().ReadStateAsync("registry", Grain(key), read);
        Assert.Equal(key, read.State!.Text);
    }

    [Fact]
    public async Task A_long_key_and_two_state_names_of_one_grain_are_kept_apart()
    {
        var grain = Grain(new string('k', 2000));
        await Storage().WriteStateAsync("first", grain, new GrainState<Note>(new Note { Text = "one" }));
        await Storage().WriteStateAsync("second", grain, new GrainState<Note>(new Note { Text = "two" }));

        var first = new GrainState<Note>();
        var second = new GrainState<Note>();
        await Storage().ReadStateAsync("first", grain, first);
        await Storage().ReadStateAsync("second", grain, second);

        Assert.Equal("one", first.State!.Text);
        Assert.Equal("two", second.State!.Text);
    }

    [Fact]
    public async Task A_write_or_clear_with_a_stale_etag_throws_InconsistentStateException_and_changes_nothing()
    {
        var grain = Grain("contended");
        var current = new GrainState<Note>(new Note { Text = "first" });
        var stale = new GrainState<Note>(new Note { Text = "stale" });
        await Storage().WriteStateAsync("registry", grain, current);

        // A second writer that never read the state (no ETag) finds a file.
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage().WriteStateAsync("registry", grain, stale));

        stale.ETag = current.ETag;
        current.State!.Text = "second";
        await Storage().WriteStateAsync("registry", grain, current);
        Assert.NotEqual(stale.ETag, current.ETag);

        // Its ETag is now outdated: neither a write nor a clear goes through.
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage().WriteStateAsync("registry", grain, stale));
        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage().ClearStateAsync("registry", grain, stale));

        var read = new GrainState<Note>();
        await Storage().ReadStateAsync("registry", grain, read);
        Assert.Equal("second", read.State!.Text);
        Assert.Equal(current.ETag, read.ETag);
    }

    [Fact]
    public async Task Clearing_deletes_the_file_and_the_state_reads_as_new_after()
    {
        var grain = Grain("cleared");
        var state = new GrainState<Note>(new Note { Text = "gone soon" });
        await Storage().WriteStateAsync("registry", grain, state);
        var etag = state.ETag;

        await Storage().ClearStateAsync("registry", grain, state);

        Assert.False(File.Exists(StateFile.PathOf(_folder.Path, "registry", grain)));
        Assert.Null(state.ETag);
        Assert.False(state.RecordExists);
        Assert.Equal("", state.State!.Text);
        var read = new GrainState<Note>();
        await Storage().ReadStateAsync("registry", grain, read);
        Assert.False(read.RecordExists);

        // A writer still holding the ETag from before the clear is refused; the clearer writes afresh.
        await Assert.ThrowsAsync<InconsistentStateException>(() =>
            Storage().WriteStateAsync("registry", grain, new GrainState<Note>(new Note()) { ETag = etag }));
        state.State!.Text = "back";
        await Storage().WriteStateAsync("registry", grain, state);
        Assert.True(state.RecordExists);
    }

    [Fact]
    public async Task A_reader_in_another_storage_never_sees_a_half_written_state()
    {
        const int Writes = 120;
        var grain = Grain("busy");
        var writer = Storage();
        var reader = Storage();
        var state = new GrainState<Note>(new Note());
        await writer.WriteStateAsync("registry", grain, state);

        var writing = Task.Run(async () =>
        {
            for (var version = 1; version <= Writes; version++)
            {
                // Sizes from 16 KiB to ~1 MiB, so a torn file would be a short one or a mix of two versions.
                state.State = new Note { Version = version, Text = new string((char)('a' + version % 26), LengthOf(version)) };
                await writer.WriteStateAsync("registry", grain, state);
            }
        });
        var reads = 0;
        var lastVersion = 0;
        while (!writing.IsCompleted)
        {
            var read = new GrainState<Note>();
            await reader.ReadStateAsync("registry", grain, read);
            var note = read.State!;
            Assert.True(read.RecordExists);
            Assert.True(note.Version >= lastVersion, $"version went back from {lastVersion} to {note.Version}");
            if (note.Version > 0)
            {
                Assert.Equal(LengthOf(note.Version), note.Text.Length);
                Assert.All(note.Text, c => Assert.Equal((char)('a' + note.Version % 26), c));
            }
            lastVersion = note.Version;
            reads++;
        }
        await writing;

        Assert.True(reads > 0);
        Assert.Empty(Directory.EnumerateFiles(_folder.Path, "*" + StateFile.TemporaryExtension, SearchOption.AllDirectories));
        var final = new GrainState<Note>();
        await reader.ReadStateAsync("registry", grain, final);
        Assert.Equal(Writes, final.State!.Version);
        Assert.Equal(state.ETag, final.ETag);

        static int LengthOf(int version) => 16 * 1024 + version * 7919 % (1024 * 1024);
    }

    [Fact]
    public async Task A_file_damaged_on_disk_is_an_error_not_an_empty_state()
    {
        var grain = Grain("damaged");
        await Storage().WriteStateAsync("registry", grain, new GrainState<Note>(new Note { Text = "precious" }));
        var path = StateFile.PathOf(_folder.Path, "registry", grain);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^2] ^= 0x20;
        await File.WriteAllBytesAsync(path, bytes);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Storage().ReadStateAsync("registry", grain, new GrainState<Note>()));

        Assert.Contains(path, error.Message);
        Assert.Contains("checksum", error.Message);
    }

    [Fact]
    public async Task A_state_file_belongs_to_one_grain_and_a_file_copied_over_another_is_refused()
    {
        await Storage().WriteStateAsync("registry", Grain("one"), new GrainState<Note>(new Note { Text = "one" }));
        var other = StateFile.PathOf(_folder.Path, "registry", Grain("other"));
        Directory.CreateDirectory(Path.GetDirectoryName(other)!);
        File.Copy(StateFile.PathOf(_folder.Path, "registry", Grain("one")), other);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Storage().ReadStateAsync("registry", Grain("other"), new GrainState<Note>()));

        Assert.Contains("test-grain/one", error.Message);
    }

    [Fact]
    public void The_storage_folder_is_required_and_must_not_be_a_file()
    {
        var validator = new FileGrainStorageOptionsValidator();
        var file = _folder.Write("not-a-folder", "x");

        Assert.True(validator.Validate("registry", new FileGrainStorageOptions { Directory = _folder.Path }).Succeeded);
        Assert.Contains("Directory is required", validator.Validate("registry", new FileGrainStorageOptions { Directory = " " }).FailureMessage);
        Assert.Contains("is a file", validator.Validate("registry", new FileGrainStorageOptions { Directory = file }).FailureMessage);
    }

    [Fact]
    public void A_single_machine_registry_defaults_to_the_users_data_folder_and_redis_needs_none()
    {
        var defaults = new KeylessClusterOptions();
        var userData = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);

        Assert.Equal(Path.Combine(userData, "keyless-registry", "keyless"), defaults.EffectiveRegistryDirectory);
        Assert.Empty(defaults.ValidateRegistryStorage());
        Assert.Equal("/srv/registry", new KeylessClusterOptions { RegistryDirectory = "/srv/registry" }.EffectiveRegistryDirectory);
        Assert.Empty(new KeylessClusterOptions { Clustering = "redis", Redis = "127.0.0.1:6379", ServiceId = "a/b" }.ValidateRegistryStorage());

        var file = _folder.Write("registry-file", "x");
        Assert.Contains(new KeylessClusterOptions { RegistryDirectory = file }.Validate(), p => p.Contains("Keyless:Cluster:RegistryDirectory") && p.Contains("is a file"));
        Assert.Contains(new KeylessClusterOptions { ServiceId = "a/b" }.ValidateRegistryStorage(), p => p.Contains("Keyless:Cluster:RegistryDirectory is required"));
    }

    public sealed class Note
    {
        public string Text { get; set; } = "";
        public int Version { get; set; }
        public List<int> Numbers { get; set; } = [];
    }
}
