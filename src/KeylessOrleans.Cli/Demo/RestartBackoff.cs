namespace KeylessOrleans.Cli.Demo;

/// <summary>
/// Waits between restarts of a process that keeps exiting: 1 s, doubling up to 30 s, and 1 s again once a start has
/// lasted a minute (a crash after a good run is not part of a crash loop).
/// </summary>
internal sealed class RestartBackoff
{
    public static readonly TimeSpan First = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Longest = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan Stable = TimeSpan.FromMinutes(1);

    private TimeSpan _next = First;

    /// <summary>The wait before the next start, given how long the last start ran.</summary>
    public TimeSpan Next(TimeSpan ran)
    {
        if (ran >= Stable) _next = First;
        var wait = _next;
        _next = _next * 2 < Longest ? _next * 2 : Longest;
        return wait;
    }
}
