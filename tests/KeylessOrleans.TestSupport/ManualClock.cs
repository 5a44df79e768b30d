namespace KeylessOrleans.TestSupport;

/// <summary>
/// A clock that moves only when told: wall time and timestamps advance together, and its timers fire inside
/// <see cref="Advance"/>, on the caller's thread, in due order (a periodic one once per call).
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

    /// <summary>Moves the clock on, firing every timer that falls due on the way at its own time.</summary>
    public void Advance(TimeSpan by)
    {
        long end;
        lock (_lock) end = _ticks + by.Ticks;
        while (true)
        {
            ManualTimer? next;
            lock (_lock)
            {
                next = _timers.Where(t => t.DueTicks <= end).MinBy(t => t.DueTicks);
                var to = next?.DueTicks ?? end;
                _now += TimeSpan.FromTicks(to - _ticks);
                _ticks = to;
                if (next is null) return;
                if (next.PeriodTicks > 0)
                {
                    // Once per Advance however many periods it spans, as a busy machine's timer would: a jump of
                    // days must not fire a one-second timer 100,000 times.
                    var periods = Math.Max(1, (end - next.DueTicks) / next.PeriodTicks + 1);
                    next.DueTicks += periods * next.PeriodTicks;
                }
                else
                {
                    _timers.Remove(next);
                }
            }
            next.Fire();
        }
    }

    private sealed class ManualTimer(ManualClock clock, TimerCallback callback, object? state) : ITimer
    {
        public long DueTicks { get; set; }
        public long PeriodTicks { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._lock)
            {
                clock._timers.Remove(this);
                if (dueTime == Timeout.InfiniteTimeSpan) return true;
                DueTicks = clock._ticks + dueTime.Ticks;
                PeriodTicks = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
                clock._timers.Add(this);
                return true;
            }
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
