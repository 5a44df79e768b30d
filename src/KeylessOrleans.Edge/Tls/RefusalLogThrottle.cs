namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// At most one log line per interval for an event that an attacker can trigger at will (refused connections);
/// the lines in between are counted, so the one that is written says how many it stands for.
/// </summary>
public sealed class RefusalLogThrottle(TimeSpan interval)
{
    private readonly long _intervalMs = (long)interval.TotalMilliseconds;
    private long _nextMs = long.MinValue;
    private long _suppressed;

    /// <summary>True when this event should be logged; <paramref name="suppressed"/> is how many were not since the last one.</summary>
    public bool ShouldLog(out long suppressed)
    {
        var now = Environment.TickCount64;
        var next = Interlocked.Read(ref _nextMs);
        if (now < next || Interlocked.CompareExchange(ref _nextMs, now + _intervalMs, next) != next)
        {
            Interlocked.Increment(ref _suppressed);
            suppressed = 0;
            return false;
        }
        suppressed = Interlocked.Exchange(ref _suppressed, 0);
        return true;
    }
}
