using System.Diagnostics;

namespace KeylessOrleans.Wan.Tests.Link;

/// <summary>
/// The settings every connection of a <see cref="DelayProxy"/> obeys — changed at run time by the test — and what
/// the proxy actually did: how long each chunk was held (the proxy's own timer error shows there).
/// </summary>
public sealed class WanLink
{
    private const int MaxRecorded = 200_000;

    private LinkSettings _settings = new();
    private TaskCompletionSource _open = Opened();
    private readonly List<double> _holdMs = [];

    public LinkSettings Settings => Volatile.Read(ref _settings);

    public void Set(LinkSettings settings)
    {
        Volatile.Write(ref _settings, settings);
        if (!settings.Blackholed) _open.TrySetResult();
        else if (_open.Task.IsCompleted) Interlocked.Exchange(ref _open, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    public void Update(Func<LinkSettings, LinkSettings> change) => Set(change(Settings));

    /// <summary>Completes when the link is not blackholed (at once if it is not now).</summary>
    public Task Open => Settings.Blackholed ? Volatile.Read(ref _open).Task : Task.CompletedTask;

    /// <summary>When a chunk that arrived at <paramref name="arrived"/> (Stopwatch ticks) may leave, before ordering.</summary>
    public long DueAt(long arrived, int bytes)
    {
        var settings = Settings;
        var hold = settings.Delay;
        if (settings.Jitter > TimeSpan.Zero) hold += settings.Jitter * Random.Shared.NextDouble();
        if (settings.Loss > 0)
        {
            var segments = (bytes + LinkSettings.SegmentBytes - 1) / LinkSettings.SegmentBytes;
            if (Random.Shared.NextDouble() < 1 - Math.Pow(1 - settings.Loss, segments)) hold += settings.Retransmit;
        }
        return arrived + (long)(hold.TotalSeconds * Stopwatch.Frequency);
    }

    public void RecordHold(TimeSpan held)
    {
        lock (_holdMs)
            if (_holdMs.Count < MaxRecorded) _holdMs.Add(held.TotalMilliseconds);
    }

    /// <summary>Hold times recorded since the last call (and forgets them).</summary>
    public IReadOnlyList<double> TakeHoldTimes()
    {
        lock (_holdMs)
        {
            var taken = _holdMs.ToList();
            _holdMs.Clear();
            return taken;
        }
    }

    private static TaskCompletionSource Opened()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }
}
