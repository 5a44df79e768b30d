using System.Collections.Concurrent;
using KeylessOrleans.Cluster.Diagnostics;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>The one throttle for log lines anyone can trigger: few lines, exact counts, bounded memory.</summary>
public sealed class LogThrottleTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly ManualClock _clock = new();
    private readonly ConcurrentQueue<(string Key, long Count)> _summaries = new();

    private LogThrottle<string> Throttle(int firstInFull = 5, int maxKeys = 100) =>
        new(Window, firstInFull, maxKeys, "overflow", (key, count) => _summaries.Enqueue((key, count)), _clock);

    [Fact]
    public void The_first_events_of_a_key_are_logged_in_full_and_the_window_end_says_exactly_how_many_more_there_were()
    {
        using var throttle = Throttle();
        var full = Enumerable.Range(0, 1000).Count(_ => throttle.ShouldLog("a"));
        var fullB = Enumerable.Range(0, 3).Count(_ => throttle.ShouldLog("b"));
        Assert.Equal(5, full);
        Assert.Equal(3, fullB);

        _clock.Advance(Window - TimeSpan.FromSeconds(1));
        Assert.Empty(_summaries); // not before the window ends
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(new[] { ("a", 995L) }, _summaries); // b had none left over: no summary for it

        // A new window: the first five are in full again.
        Assert.Equal(5, Enumerable.Range(0, 7).Count(_ => throttle.ShouldLog("a")));
    }

    [Fact]
    public void Summaries_are_written_when_the_window_ends_without_any_further_event_and_only_once()
    {
        using var throttle = Throttle(firstInFull: 1);
        for (var i = 0; i < 4; i++) throttle.ShouldLog("quiet after this");

        _clock.Advance(Window); // the timer, not a later event, ends the window
        Assert.Equal(new[] { ("quiet after this", 3L) }, _summaries);
        _clock.Advance(Window * 3);
        Assert.Single(_summaries);
    }

    [Fact]
    public void A_flood_of_distinct_keys_keeps_at_most_the_cap_and_every_event_is_still_counted()
    {
        const int events = 100_000;
        using var throttle = Throttle(firstInFull: 5, maxKeys: 100);
        var full = 0;
        for (var i = 0; i < events; i++)
            if (throttle.ShouldLog($"network {i}")) full++;

        Assert.Equal(101, throttle.Keys); // 100 keys and the overflow key, not 100,000
        _clock.Advance(Window);
        Assert.Equal(events, full + _summaries.Sum(s => s.Count));
        Assert.Equal(("overflow", events - 100 - 5L), Assert.Single(_summaries));
        Assert.True(full + _summaries.Count <= throttle.MaxLinesPerWindow, $"{full} + {_summaries.Count} lines > {throttle.MaxLinesPerWindow}");
        Assert.Equal(0, throttle.Keys);
    }

    [Fact]
    public void Dispose_writes_the_last_window_and_stops_the_timer()
    {
        var throttle = Throttle(firstInFull: 2);
        for (var i = 0; i < 10; i++) throttle.ShouldLog("shutdown");
        throttle.Dispose();
        Assert.Equal(new[] { ("shutdown", 8L) }, _summaries);
        throttle.Dispose();
        _clock.Advance(Window * 2);
        Assert.Single(_summaries);
    }

    [Fact]
    public async Task Events_from_many_threads_are_counted_exactly()
    {
        const int threads = 8, each = 20_000;
        using var throttle = Throttle(firstInFull: 3, maxKeys: 4);
        var full = 0;
        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < each; i++)
                if (throttle.ShouldLog($"key {(t + i) % 6}")) Interlocked.Increment(ref full);
        })));
        throttle.Flush();
        Assert.Equal(threads * each, full + _summaries.Sum(s => s.Count));
        Assert.True(full <= 5 * 3, $"{full} lines in full");
    }
}
