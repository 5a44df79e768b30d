using System.Runtime.InteropServices;

namespace KeylessOrleans.Cluster.Diagnostics;

/// <summary>
/// Bounds a log line that anyone can trigger at will (failed handshakes, refused connections, refused calls).
/// Events are grouped by key; in each window the first <see cref="FirstInFull"/> of a key are logged in full
/// (<see cref="ShouldLog"/> says true) and the rest only counted. When the window ends, each key with events left
/// over gets one summary with their exact count, whether or not another event comes (a timer on the
/// <see cref="TimeProvider"/>); <see cref="Flush"/> and <see cref="Dispose"/> write them at once (on shutdown).
/// At most <see cref="MaxKeys"/> keys are held per window; events of any further key count under the overflow key,
/// so a flood of distinct keys (client networks) cannot grow memory. Lines per window, whatever the rate, are at
/// most <see cref="MaxLinesPerWindow"/>. Metrics, not this, count events exactly.
/// </summary>
/// <typeparam name="TKey">What makes two events "alike" (e.g. reason, tenant and client network).</typeparam>
internal sealed class LogThrottle<TKey> : IDisposable where TKey : notnull
{
    private readonly Lock _lock = new();
    private readonly Dictionary<TKey, long> _counts = [];
    private readonly TKey _overflowKey;
    private readonly Action<TKey, long> _summarize;
    private readonly ITimer _timer;
    private long _overflowCount;
    private bool _disposed;

    /// <param name="window">How long a window lasts; summaries are written at its end.</param>
    /// <param name="firstInFull">Events per key and window logged in full (0: summaries only).</param>
    /// <param name="maxKeys">Distinct keys held per window, besides the overflow key.</param>
    /// <param name="overflowKey">The key that events of keys beyond <paramref name="maxKeys"/> count under.</param>
    /// <param name="summarize">Writes one summary: the key and how many of its events were not logged in full.</param>
    public LogThrottle(TimeSpan window, int firstInFull, int maxKeys, TKey overflowKey, Action<TKey, long> summarize, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(firstInFull);
        ArgumentOutOfRangeException.ThrowIfNegative(maxKeys);
        Window = window;
        FirstInFull = firstInFull;
        MaxKeys = maxKeys;
        _overflowKey = overflowKey;
        _summarize = summarize;
        _timer = time.CreateTimer(static state => ((LogThrottle<TKey>)state!).Flush(), this, window, window);
    }

    public TimeSpan Window { get; }

    public int FirstInFull { get; }

    public int MaxKeys { get; }

    /// <summary>The most lines one window can produce: per key (and the overflow key) the ones in full and a summary.</summary>
    public long MaxLinesPerWindow => (MaxKeys + 1L) * (FirstInFull + 1L);

    /// <summary>Keys held in the current window (the overflow key included once it has events).</summary>
    public int Keys
    {
        get
        {
            lock (_lock) return _counts.Count + (_overflowCount > 0 ? 1 : 0);
        }
    }

    /// <summary>Counts one event of <paramref name="key"/>; true when the caller should log it in full.</summary>
    public bool ShouldLog(TKey key)
    {
        lock (_lock)
        {
            if (!_counts.ContainsKey(key) && _counts.Count >= MaxKeys) return ++_overflowCount <= FirstInFull;
            ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(_counts, key, out _);
            return ++count <= FirstInFull;
        }
    }

    /// <summary>Ends the window: writes a summary for every key with events not logged in full, and starts a new one.</summary>
    public void Flush()
    {
        List<(TKey Key, long Count)> summaries = [];
        lock (_lock)
        {
            foreach (var (key, count) in _counts)
                if (count > FirstInFull) summaries.Add((key, count - FirstInFull));
            if (_overflowCount > FirstInFull) summaries.Add((_overflowKey, _overflowCount - FirstInFull));
            _counts.Clear();
            _overflowCount = 0;
        }
        foreach (var (key, count) in summaries) _summarize(key, count);
    }

    /// <summary>Stops the timer and writes the last window's summaries.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _timer.Dispose();
        Flush();
    }
}
