namespace KeylessOrleans.Wan.Tests;

/// <summary>
/// How long the WAN drills measure. CI runs the short form (seconds per phase); tests/wan/run-long.sh sets
/// KEYLESS_WAN_SCALE to stretch every measuring phase and KEYLESS_WAN_REPORT to collect the figures.
/// </summary>
public static class WanDrill
{
    private static readonly Lock ReportLock = new();

    public static double Scale { get; } = double.TryParse(Environment.GetEnvironmentVariable("KEYLESS_WAN_SCALE"), out var s) && s >= 1 ? s : 1;

    public static TimeSpan Phase(double seconds) => TimeSpan.FromSeconds(seconds * Scale);

    /// <summary>Appends a figure line to the report file, when the long form asks for one.</summary>
    public static void Report(string line)
    {
        if (Environment.GetEnvironmentVariable("KEYLESS_WAN_REPORT") is { Length: > 0 } file)
            lock (ReportLock) File.AppendAllText(file, line + Environment.NewLine);
    }
}
