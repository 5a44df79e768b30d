using System.Collections.Concurrent;

namespace KeylessOrleans.TestSupport.Fuzzing;

/// <summary>
/// Counts fuzz results as they come (by outcome, ending and kind) and keeps only the failures, so a long run's
/// memory stays flat and the memory check measures the server, not the bookkeeping.
/// </summary>
public sealed class FuzzTally(TimeSpan limit)
{
    private const int KeptFailures = 20;

    private readonly ConcurrentDictionary<string, int> _outcomes = new();
    private readonly ConcurrentDictionary<string, int> _endings = new();
    private readonly ConcurrentDictionary<string, int> _kinds = new();
    private readonly ConcurrentQueue<FuzzResult> _failures = new();
    private long _slowestTicks;
    private long _slowestHalfCloseTicks;
    private int _count;
    private int _failed;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Connections the server did not close within the limit.</summary>
    public int Failed => Volatile.Read(ref _failed);

    /// <summary>The first few failures (recreate their bytes from the seed and index).</summary>
    public IReadOnlyCollection<FuzzResult> Failures => _failures;

    public TimeSpan Slowest => TimeSpan.FromTicks(Interlocked.Read(ref _slowestTicks));

    public TimeSpan SlowestAfterHalfClose => TimeSpan.FromTicks(Interlocked.Read(ref _slowestHalfCloseTicks));

    public IReadOnlyDictionary<string, int> Outcomes => _outcomes;

    public IReadOnlyDictionary<string, int> Endings => _endings;

    public IReadOnlyDictionary<string, int> Kinds => _kinds;

    public void Add(FuzzResult result)
    {
        Interlocked.Increment(ref _count);
        _outcomes.AddOrUpdate(result.Outcome.ToString(), 1, (_, n) => n + 1);
        _endings.AddOrUpdate(result.Ending.ToString(), 1, (_, n) => n + 1);
        _kinds.AddOrUpdate(result.Kind.Split(':')[0], 1, (_, n) => n + 1);
        Max(ref _slowestTicks, result.Elapsed.Ticks);
        if (result.Ending == FuzzEnding.HalfClose) Max(ref _slowestHalfCloseTicks, result.Elapsed.Ticks);
        if (result.Outcome == FuzzOutcome.Hang || result.Elapsed > limit)
        {
            if (Interlocked.Increment(ref _failed) <= KeptFailures) _failures.Enqueue(result);
        }
    }

    private static void Max(ref long target, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
