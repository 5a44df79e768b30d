namespace KeylessOrleans.Benchmarks;

/// <summary>
/// CPU time (user + system) of a process and its direct children from /proc, as `top` counts it: nginx's work is
/// done by its worker processes, a .NET process's by its threads.
/// </summary>
internal static class ProcessCpu
{
    private static readonly double TickMicroseconds = 1_000_000.0 / ClockTicksPerSecond();

    /// <summary>Microseconds of CPU so far, of <paramref name="pid"/> and every process whose parent it is.</summary>
    public static double Microseconds(int pid)
    {
        long ticks = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var candidate)) continue;
            if (Read(candidate) is not { } stat) continue;
            if (candidate == pid || stat.Parent == pid) ticks += stat.Ticks;
        }
        return ticks * TickMicroseconds;
    }

    /// <summary>Microseconds of CPU so far of <paramref name="pid"/> alone, without its children (0 once it is gone).</summary>
    public static double OwnMicroseconds(int pid) => (Read(pid)?.Ticks ?? 0) * TickMicroseconds;

    private static (int Parent, long Ticks)? Read(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null; // gone between listing and reading
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
        return (int.Parse(fields[1]), long.Parse(fields[11]) + long.Parse(fields[12]));
    }

    /// <summary>USER_HZ: 100 on every Linux the project runs on (the kernel's ABI for /proc times).</summary>
    private static long ClockTicksPerSecond() => 100;
}
