namespace KeylessOrleans.Cluster.Security;

/// <summary>
/// Requests seen in the last one to two freshness windows, by a 128-bit digest. Two generations rotate every
/// window, so memory stays bounded by twice the capacity; a request older than the window is refused by its time
/// check anyway, so forgetting it then is safe.
/// </summary>
public sealed class ReplayCache(TimeSpan window, int capacity, TimeProvider time)
{
    private readonly Lock _lock = new();
    private HashSet<UInt128> _current = [];
    private HashSet<UInt128> _previous = [];
    private long _rotated = time.GetTimestamp();

    public enum Outcome { New, Replayed, Full }

    public Outcome TryAdd(ReadOnlySpan<byte> digest)
    {
        var key = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(digest[..16]);
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (time.GetElapsedTime(_rotated, now) >= window)
            {
                (_previous, _current) = (_current, _previous);
                _current.Clear();
                _rotated = now;
            }
            if (_current.Contains(key) || _previous.Contains(key)) return Outcome.Replayed;
            if (_current.Count >= capacity) return Outcome.Full;
            _current.Add(key);
            return Outcome.New;
        }
    }
}
