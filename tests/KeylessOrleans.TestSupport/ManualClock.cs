namespace KeylessOrleans.TestSupport;

/// <summary>A clock that moves only when told: wall time and timestamps advance together.</summary>
/// <param name="start">Where it starts; by default a fixed day (use the real time for checks against real certificates).</param>
public sealed class ManualClock(DateTimeOffset? start = null) : TimeProvider
{
    private DateTimeOffset _now = start ?? new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private long _ticks;

    public override DateTimeOffset GetUtcNow() => _now;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by)
    {
        _now += by;
        _ticks += by.Ticks;
    }
}
