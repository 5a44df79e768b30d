namespace KeylessOrleans.Reliability.Tests;

/// <summary>
/// How long the fault drills run. CI runs the short form (seconds per phase); tests/reliability/run-long.sh sets
/// KEYLESS_DRILL_SCALE to stretch every phase and KEYLESS_DRILL_CLIENTS for more concurrent clients.
/// </summary>
public static class FaultDrill
{
    public static double Scale { get; } = double.TryParse(Environment.GetEnvironmentVariable("KEYLESS_DRILL_SCALE"), out var s) && s >= 1 ? s : 1;

    public static int Clients { get; } = int.TryParse(Environment.GetEnvironmentVariable("KEYLESS_DRILL_CLIENTS"), out var c) && c >= 1 ? c : 4;

    public static TimeSpan Phase(double seconds) => TimeSpan.FromSeconds(seconds * Scale);
}
