namespace KeylessOrleans.KeyServer.Access;

/// <summary>A token bucket: <c>rate</c> tokens a second, at most <c>burst</c> saved up. Thread-safe.</summary>
internal sealed class TokenBucket(double rate, int burst, TimeProvider time)
{
    private readonly Lock _lock = new();
    private double _tokens = burst;
    private long _updated = time.GetTimestamp();

    public bool TryTake()
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(burst, _tokens + time.GetElapsedTime(_updated, now).TotalSeconds * rate);
            _updated = now;
            if (_tokens < 1) return false;
            _tokens -= 1;
            return true;
        }
    }
}
