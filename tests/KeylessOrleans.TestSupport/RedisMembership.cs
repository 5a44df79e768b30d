using System.Diagnostics;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// Orleans' membership table as Microsoft.Orleans.Clustering.Redis keeps it (one hash, field per silo, JSON values
/// naming "address:port@generation"), read with redis-cli. <paramref name="redisCli"/> is the command line up to
/// the Redis command, e.g. <c>redis-cli -p 6379</c>, or the same behind <c>ip netns exec NAME</c>.
/// </summary>
public sealed class RedisMembership(IReadOnlyList<string> redisCli, string table = "keyless/members/keyless")
{
    /// <summary>Orleans' SiloStatus.Dead.</summary>
    public const int Dead = 6;

    /// <summary>The status of the newest generation of the silo at <paramref name="siloEndpoint"/> (address:port), or null if it has no entry.</summary>
    public async Task<int?> StatusAsync(string siloEndpoint)
    {
        var read = await ExternalTool.RunAsync(redisCli[0], [.. redisCli.Skip(1), "hgetall", table]);
        var marker = $"{siloEndpoint}@";
        var entry = read.Output.Split('\n', StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith('{') && l.Contains(marker))
            .MaxBy(l => long.Parse(new string(l[(l.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..].TakeWhile(char.IsDigit).ToArray())));
        if (entry is null) return null;
        const string status = "\"Status\":";
        var at = entry.IndexOf(status, StringComparison.Ordinal);
        return at < 0 ? null : int.Parse(new string(entry[(at + status.Length)..].TakeWhile(char.IsDigit).ToArray()));
    }

    /// <summary>Polls until the silo at <paramref name="siloEndpoint"/> is declared dead: the time from the call, or null if not within <paramref name="limit"/>.</summary>
    public async Task<TimeSpan?> UntilDeclaredDeadAsync(string siloEndpoint, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (await StatusAsync(siloEndpoint) == Dead) return clock.Elapsed;
            await Task.Delay(100);
        }
        return null;
    }
}
