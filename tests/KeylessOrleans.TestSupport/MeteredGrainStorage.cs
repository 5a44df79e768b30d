using Orleans.Storage;

namespace KeylessOrleans.TestSupport;

/// <summary>What a grain storage was asked to write: records and their serialized bytes, as Redis would store them.</summary>
public sealed class StorageMeter
{
    private long _writes;
    private long _bytes;
    private long _reads;

    public long Writes => Interlocked.Read(ref _writes);
    public long Bytes => Interlocked.Read(ref _bytes);
    public long Reads => Interlocked.Read(ref _reads);

    public void Reset()
    {
        Interlocked.Exchange(ref _writes, 0);
        Interlocked.Exchange(ref _bytes, 0);
        Interlocked.Exchange(ref _reads, 0);
    }

    internal void Wrote(long bytes)
    {
        Interlocked.Increment(ref _writes);
        Interlocked.Add(ref _bytes, bytes);
    }

    internal void Read() => Interlocked.Increment(ref _reads);
}

/// <summary>A grain storage that counts what passes through it to another one.</summary>
internal sealed class MeteredGrainStorage(IGrainStorage inner, IGrainStorageSerializer serializer, StorageMeter meter) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        meter.Read();
        return inner.ReadStateAsync(stateName, grainId, grainState);
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        meter.Wrote(serializer.Serialize(grainState.State).ToMemory().Length);
        return inner.WriteStateAsync(stateName, grainId, grainState);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        meter.Wrote(0);
        return inner.ClearStateAsync(stateName, grainId, grainState);
    }
}
