using System.Collections.Concurrent;

namespace KeylessOrleans.Edge.Caching;

/// <summary>An entry of a <see cref="LastUsedMap{TKey, TEntry}"/>: remembers when a handshake last asked for it.</summary>
internal abstract class LastUsedEntry
{
    private long _lastUsedTicks;

    internal DateTimeOffset LastUsed => new(Volatile.Read(ref _lastUsedTicks), TimeSpan.Zero);

    internal void Touch(DateTimeOffset now) => Volatile.Write(ref _lastUsedTicks, now.UtcTicks);
}

/// <summary>
/// Per-certificate state an edge keeps for as long as it serves the certificate (OCSP staples, delegated
/// credentials). Certificates come and go — tenants rotate them, leave, get removed — so entries nobody asked for
/// within <paramref name="keepUnused"/> are dropped; the sweep runs on a lookup at most once per
/// <paramref name="sweepEvery"/>, so the handshake path pays one comparison otherwise.
/// </summary>
internal sealed class LastUsedMap<TKey, TEntry>(TimeSpan keepUnused, TimeSpan sweepEvery)
    where TKey : notnull
    where TEntry : LastUsedEntry, new()
{
    private readonly ConcurrentDictionary<TKey, TEntry> _entries = new();
    private long _nextSweepTicks;

    public int Count => _entries.Count;

    /// <summary>The entry for <paramref name="key"/> (a new one if none), marked as used at <paramref name="now"/>.</summary>
    public TEntry Use(TKey key, DateTimeOffset now)
    {
        var entry = _entries.GetOrAdd(key, static _ => new TEntry());
        entry.Touch(now);
        var due = Volatile.Read(ref _nextSweepTicks);
        if (now.UtcTicks >= due && Interlocked.CompareExchange(ref _nextSweepTicks, (now + sweepEvery).UtcTicks, due) == due)
            Sweep(now);
        return entry;
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries)
        {
            // A handshake racing the sweep may still use a removed entry; the next one starts afresh (a refetch).
            if (now - entry.LastUsed > keepUnused) _entries.TryRemove(new KeyValuePair<TKey, TEntry>(key, entry));
        }
    }
}
