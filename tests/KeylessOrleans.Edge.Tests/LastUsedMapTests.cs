using KeylessOrleans.Edge.Caching;

namespace KeylessOrleans.Edge.Tests;

/// <summary>Per-certificate state (OCSP staples, delegated credentials) is forgotten once nobody has asked for it in a day.</summary>
public sealed class LastUsedMapTests
{
    private sealed class Entry : LastUsedEntry;

    private static readonly DateTimeOffset Start = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Entries_unused_for_longer_than_the_limit_are_dropped_and_used_ones_stay_the_same_object()
    {
        var map = new LastUsedMap<string, Entry>(keepUnused: TimeSpan.FromDays(1), sweepEvery: TimeSpan.FromHours(1));
        var kept = map.Use("rotated-in", Start);
        map.Use("rotated-out", Start);

        for (var hour = 1; hour <= 25; hour++) Assert.Same(kept, map.Use("rotated-in", Start + TimeSpan.FromHours(hour)));

        Assert.Equal(1, map.Count);
        map.Use("rotated-out", Start + TimeSpan.FromHours(26)); // asked for again: a fresh entry
        Assert.Equal(2, map.Count);
    }

    [Fact]
    public void The_sweep_runs_at_most_once_per_interval()
    {
        var map = new LastUsedMap<string, Entry>(keepUnused: TimeSpan.FromMinutes(1), sweepEvery: TimeSpan.FromHours(1));
        map.Use("a", Start); // first lookup sweeps (nothing to drop) and sets the next sweep an hour later
        map.Use("b", Start + TimeSpan.FromMinutes(30));

        map.Use("b", Start + TimeSpan.FromMinutes(59)); // "a" is stale, but no sweep is due yet
        Assert.Equal(2, map.Count);

        map.Use("b", Start + TimeSpan.FromMinutes(61));
        Assert.Equal(1, map.Count);
    }
}
