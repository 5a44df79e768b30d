namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// How many client connections this process can hold before it runs out of file descriptors. It must never run
/// out: the .NET runtime aborts the whole process ("Out of memory.") when it cannot open a file it needs, so a
/// connection flood past the limit (<c>ulimit -n</c>) would take the edge down. Each connection may need two
/// descriptors (client and origin); descriptors open at start and a reserve (the larger of 256 and an eighth of
/// the limit) stay for Orleans, key stores and the runtime.
/// </summary>
internal static class ConnectionBudget
{
    public static int Compute(long fileLimit, int openAtStart)
    {
        var reserve = Math.Max(256, fileLimit / 8);
        return (int)Math.Clamp((fileLimit - openAtStart - reserve) / 2, 1, int.MaxValue);
    }

    /// <summary>The budget from this process's soft limit (Linux); null where it cannot be read.</summary>
    public static int? ForThisProcess()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return SoftFileLimit(File.ReadAllLines("/proc/self/limits")) is { } limit
                ? Compute(limit, Directory.GetFiles("/proc/self/fd").Length)
                : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The soft "Max open files" from /proc/self/limits; null when unlimited or absent.</summary>
    public static long? SoftFileLimit(IEnumerable<string> limits)
    {
        var line = limits.FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var fields = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is { Length: > 0 } && long.TryParse(fields[0], out var soft) ? soft : null;
    }
}
