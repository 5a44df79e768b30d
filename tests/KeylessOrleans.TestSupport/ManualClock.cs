namespace KeylessOrleans.TestSupport;

/// <summary>
/// A clock that moves only when told: wall time and timestamps advance together, and timers created on it fire,
/// on the thread that calls <see cref="Advance"/>, once it has moved past their due time.
/// </summary>
/// <param name="start">Where it starts; by default a fixed day (use the real time for checks against real certificates).</param>
public sealed class ManualClock(DateTimeOffset? start = null) : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = start ?? new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private long _ticks;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock) return _now;
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp()
    {
        lock (_lock) return _ticks;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock on, then runs every timer that came due, earliest first (a periodic one as often as it fell due).</summary>
    public void Advance(TimeSpan by)
    {
        lock (_lock)
        {
            _now += by;
            _ticks += by.Ticks;
        }
        while (NextDue() is { } timer) timer.Fire();
    }

    private ManualTimer? NextDue()
    {
        lock (_lock) return _timers.Where(t => t.DueTicks <= _ticks).MinBy(t => t.DueTicks);
    }

    private sealed class ManualTimer(ManualClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _periodTicks;

        public long DueTicks { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._lock)
            {
                clock._timers.Remove(this);
                if (dueTime == Timeout.InfiniteTimeSpan) return true;
                DueTicks = clock._ticks + dueTime.Ticks;
                _periodTicks = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
                clock._timers.Add(this);
                return true;
            }
        }

        public void Fire()
        {
            lock (clock._lock)
            {
                if (_periodTicks > 0) DueTicks += _periodTicks;
                else clock._timers.Remove(this);
            }
            callback(state);
        }

        public void Dispose()
        {
            lock (clock._lock) clock._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
