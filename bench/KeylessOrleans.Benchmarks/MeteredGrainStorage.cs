using Orleans.Storage;

namespace KeylessOrleans.Benchmarks;

/// <summary>What a grain storage was asked to write: records and their serialized bytes, as the storage stores them.</summary>
internal sealed class WriteMeter
{
    private long _writes;
    private long _bytes;

    public long Writes => Interlocked.Read(ref _writes);

    public long Bytes => Interlocked.Read(ref _bytes);

    public void Wrote(long bytes)
    {
        Interlocked.Increment(ref _writes);
        Interlocked.Add(ref _bytes, bytes);
    }
}

/// <summary>
/// A grain storage that counts what passes through it to another one (the tests' MeteredGrainStorage, which is internal
/// to TestSupport). The bytes are the grain storage serializer's output, which is what the Redis provider stores.
/// </summary>
internal sealed class MeteredGrainStorage(IGrainStorage inner, IGrainStorageSerializer serializer, WriteMeter meter) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

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
