using KeylessOrleans.Cluster.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace KeylessOrleans.Cluster.Storage;

/// <summary>
/// Grain storage in files on this machine: one file per grain state (<see cref="StateFile"/> gives its path and layout),
/// so state outlives every silo process and is shared by all silos of a single-machine cluster.
/// </summary>
/// <remarks>
/// <para>
/// A write goes to a temporary file in the same folder, is flushed to disk, then renamed over the old file; the folder
/// is flushed after the rename. A reader — the grain, or any other process — therefore sees the old file or the new
/// one, never half of one, and a write that returned survives a crash of the process or the machine.
/// </para>
/// <para>
/// ETags as in Orleans' other providers: each write stores a new random ETag, and a write or clear whose ETag is not
/// the stored one (or that has one when no file exists, or none when one does) throws
/// <see cref="InconsistentStateException"/>. The check and the rename are not one atomic step across processes: the
/// check catches a stale activation, while "one writer per file" rests on Orleans activating a grain once.
/// </para>
/// <para>
/// Clearing deletes the file, so a cleared state reads as never written (as with the Redis provider). A process that
/// dies between writing a temporary file and renaming it leaves that "*.tmp" file behind; readers never look at them.
/// </para>
/// </remarks>
internal sealed partial class FileGrainStorage(
    string name,
    FileGrainStorageOptions options,
    IActivatorProvider activators,
    ILogger<FileGrainStorage> logger) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private readonly IGrainStorageSerializer _serializer = options.GrainStorageSerializer
        ?? throw new ArgumentException($"grain storage '{name}' has no GrainStorageSerializer", nameof(options));

    /// <summary>The absolute folder this storage keeps its files in.</summary>
    public string Folder { get; } = Path.GetFullPath(options.Directory);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <summary>Reads a state; a missing file is a new state with no ETag. Any process may call it at any time.</summary>
    /// <exception cref="InvalidDataException">The file is damaged or not a state file; the message names it.</exception>
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var identity = StateFile.Identity(stateName, grainId);
        var path = PathOf(identity);
        var file = await TryReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (file is null)
        {
            Reset(grainState);
            return;
        }

        var (etag, payload) = Decode(path, file, identity);
        grainState.State = _serializer.Deserialize<T>(new BinaryData(payload));
        grainState.ETag = etag.ToString("N");
        grainState.RecordExists = true;
    }

    /// <exception cref="InconsistentStateException">The stored ETag is not the state's.</exception>
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var identity = StateFile.Identity(stateName, grainId);
        var hash = StateFile.Hash(identity);
        var shard = StateFile.ShardFolder(Folder, hash);
        var path = Path.Combine(shard, hash + StateFile.Extension);
        CheckETag("WriteState", stateName, grainId, grainState.ETag, await TryReadETagAsync(path, cancellationToken).ConfigureAwait(false));

        var etag = Guid.NewGuid();
        var file = StateFile.Encode(etag, identity, _serializer.Serialize(grainState.State).ToMemory().Span);
        EnsureShard(shard);
        var temporary = Path.Combine(shard, $"{hash}.{Guid.NewGuid():N}{StateFile.TemporaryExtension}");
        try
        {
            await using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 0,
            }))
            {
                await stream.WriteAsync(file, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }
            cancellationToken.ThrowIfCancellationRequested(); // the last point where the write can still not happen
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        DirectorySync.Flush(shard);

        grainState.ETag = etag.ToString("N");
        grainState.RecordExists = true;
    }

    /// <summary>Deletes the state's file; the state becomes new, with no ETag.</summary>
    /// <exception cref="InconsistentStateException">The stored ETag is not the state's.</exception>
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var identity = StateFile.Identity(stateName, grainId);
        var path = PathOf(identity);
        var stored = await TryReadETagAsync(path, cancellationToken).ConfigureAwait(false);
        CheckETag("ClearState", stateName, grainId, grainState.ETag, stored);
        if (stored is not null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            File.Delete(path);
            DirectorySync.Flush(Path.GetDirectoryName(path)!);
        }
        Reset(grainState);
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe($"{nameof(FileGrainStorage)}-{name}", ServiceLifecycleStage.ApplicationServices, Start);

    /// <summary>Creates the folder and proves it writable, so a wrong folder stops the silo at start, not at the first write.</summary>
    private async Task Start(CancellationToken cancellationToken)
    {
        var probe = Path.Combine(Folder, $".probe.{Guid.NewGuid():N}{StateFile.TemporaryExtension}");
        try
        {
            CreateFolder(Folder);
            await File.WriteAllBytesAsync(probe, [], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"grain storage '{name}' cannot create or write in its folder '{Folder}': {e.Message}", e);
        }
        finally
        {
            TryDelete(probe);
        }
        LogStarted(name, Folder);
    }

    private string PathOf(string identity)
    {
        var hash = StateFile.Hash(identity);
        return Path.Combine(StateFile.ShardFolder(Folder, hash), hash + StateFile.Extension);
    }

    private (Guid ETag, ReadOnlyMemory<byte> Payload) Decode(string path, byte[] file, string identity)
    {
        try
        {
            return StateFile.Decode(file, identity);
        }
        catch (InvalidDataException e)
        {
            LogDamaged(name, path, e.Message);
            throw new InvalidDataException($"grain storage '{name}': '{path}': {e.Message}", e);
        }
    }

    private static async Task<byte[]?> TryReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            // Share everything: a reader must never stop the writer from replacing or deleting the file.
            await using var stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0,
            });
            if (stream.Length > Array.MaxLength) throw new InvalidDataException($"'{path}' is {stream.Length} bytes, too large for a grain state");
            var file = new byte[stream.Length];
            await stream.ReadExactlyAsync(file, cancellationToken).ConfigureAwait(false);
            return file;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private async Task<string?> TryReadETagAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0,
            });
            var header = new byte[StateFile.HeaderLength];
            var read = await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            try
            {
                return StateFile.ReadETag(header.AsSpan(0, read)).ToString("N");
            }
            catch (InvalidDataException e)
            {
                LogDamaged(name, path, e.Message);
                throw new InvalidDataException($"grain storage '{name}': '{path}': {e.Message}", e);
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private void CheckETag(string operation, string stateName, GrainId grainId, string? expected, string? stored)
    {
        if (!string.Equals(expected, stored, StringComparison.Ordinal))
            throw new InconsistentStateException(
                $"Version conflict ({operation}): storage {name}, state {stateName} of grain {grainId}: ETag {expected ?? "(none)"}, stored {stored ?? "(no file)"}",
                stored ?? "", expected ?? "");
    }

    private void Reset<T>(IGrainState<T> grainState)
    {
        grainState.State = activators.GetActivator<T>().Create();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    /// <summary>Creates a sub-folder on first use and flushes its parent, so the folder's entry survives a power loss too.</summary>
    private void EnsureShard(string shard)
    {
        if (Directory.Exists(shard)) return;
        CreateFolder(shard);
        DirectorySync.Flush(Folder);
    }

    /// <summary>New folders are the service user's alone: the registry lists whom the operator serves.</summary>
    private static void CreateFolder(string folder)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
        else Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary file is harmless: no reader opens one.
        }
    }

    [LoggerMessage(EventId = EventIds.FileStorageStarted, Level = LogLevel.Information, Message = "Grain storage {Storage} keeps state in {Folder}")]
    private partial void LogStarted(string storage, string folder);

    [LoggerMessage(EventId = EventIds.FileStorageStateUnreadable, Level = LogLevel.Error, Message = "Grain storage {Storage}: state file {Path} is unreadable ({Problem}); the grain cannot activate until it is restored or deleted")]
    private partial void LogDamaged(string storage, string path, string problem);
}
