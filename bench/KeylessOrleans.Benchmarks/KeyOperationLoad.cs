using System.Diagnostics;

namespace KeylessOrleans.Benchmarks;

/// <summary>Runs one key operation from N concurrent loops for a fixed time: operations per second and latency.</summary>
internal static class KeyOperationLoad
{
    /// <summary>An asynchronous operation (a grain call) from <paramref name="concurrency"/> concurrent loops.</summary>
    public static async Task<LoadResult> RunAsync(Func<Task> operation, int concurrency, TimeSpan duration)
    {
        for (var i = 0; i < 50; i++) await operation(); // warm-up: activation, JIT
        var latencies = new List<double>[concurrency];
        var stop = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            var mine = latencies[worker] = [];
            while (stop.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                await operation();
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }));
        return Summarize(latencies, stop.Elapsed);
    }

    /// <summary>A synchronous operation on one dedicated thread per core: the in-process ceiling.</summary>
    public static LoadResult RunOnThreads(Action operation, TimeSpan duration)
    {
        for (var i = 0; i < 50; i++) operation();
        var threads = Environment.ProcessorCount;
        var latencies = new List<double>[threads];
        var stop = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(worker => new Thread(() =>
        {
            var mine = latencies[worker] = [];
            while (stop.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                operation();
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        return Summarize(latencies, stop.Elapsed);
    }

    private static LoadResult Summarize(List<double>[] latencies, TimeSpan elapsed)
    {
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new LoadResult(all.Length / elapsed.TotalSeconds, all[all.Length / 2], all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))]);
    }
}
