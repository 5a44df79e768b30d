namespace KeylessOrleans.Cluster.Security;

/// <summary>
/// Requests seen lately, by a 128-bit digest: each is remembered for at least <paramref name="retention"/> (at most
/// twice that). Two generations rotate every <paramref name="retention"/>, so memory stays bounded by twice the
/// capacity. The retention must cover the whole span in which a request's time check would accept it (for a time
/// accepted within ±w of now, 2w): forgetting a request sooner would let its replay through.
/// </summary>
internal sealed class ReplayCache(TimeSpan retention, int capacity, TimeProvider time)
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
            if (time.GetElapsedTime(_rotated, now) >= retention)
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
