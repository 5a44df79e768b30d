using System.Diagnostics;

namespace KeylessOrleans.TestSupport;

public static class Poll
{
    /// <summary>Checks <paramref name="condition"/> every 100 ms until it holds (true) or <paramref name="limit"/> passes (false).</summary>
    public static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > limit) return false;
            await Task.Delay(100);
        }
        return true;
    }
}
