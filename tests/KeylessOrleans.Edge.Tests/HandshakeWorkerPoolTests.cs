using System.Collections.Concurrent;
using System.Diagnostics;
using KeylessOrleans.Edge.Tls;

namespace KeylessOrleans.Edge.Tests;

public sealed class HandshakeWorkerPoolTests
{
    // Generous for a busy 2-core machine; a lost wake-up never starts its step at all.
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_full_queue_refuses_at_once_instead_of_waiting()
    {
        using var pool = new HandshakeWorkerPool(threads: 1, queueLength: 1);
        using var release = new ManualResetEventSlim();
        Assert.True(pool.TryRun(() => release.Wait(), out var running));
        await UntilAsync(() => pool.Busy == 1, "the step to start");  // the only thread is now blocked (a slow key call)
        Assert.True(pool.TryRun(() => { }, out var queued));  // one may wait
        Assert.False(pool.TryRun(() => { }, out _));          // the next is refused
        release.Set();
        await Task.WhenAll(running, queued).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(pool.TryRun(() => { }, out var later));
        await later.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_failing_step_surfaces_its_exception_to_the_connection()
    {
        using var pool = new HandshakeWorkerPool(threads: 2, queueLength: 4);
        Assert.True(pool.TryRun(() => throw new IOException("bad record"), out var step));
        await Assert.ThrowsAsync<IOException>(() => step.WaitAsync(Prompt));
    }

    [Fact]
    public async Task A_step_queued_while_every_thread_is_idle_starts_promptly()
    {
        using var pool = new HandshakeWorkerPool(threads: 4, queueLength: 4);
        // One step at a time, each queued once the previous one's thread has gone back to wait: every step meets
        // idle threads (parked, or on their way to park), the case a lost wake-up leaves waiting for ever.
        for (var round = 0; round < 300; round++)
        {
            await UntilAsync(() => pool.Busy == 0, "the thread to go back to wait");
            Assert.True(pool.TryRun(() => { }, out var step));
            await step.WaitAsync(Prompt);
        }
    }

    [Fact]
    public async Task Steps_queued_together_each_get_their_own_idle_thread()
    {
        const int threads = 4;
        using var pool = new HandshakeWorkerPool(threads, queueLength: threads);
        for (var round = 0; round < 50; round++)
        {
            await UntilAsync(() => pool.Busy == 0, "the threads to go back to wait");
            // Each step waits for all of them to be running: it completes only if every step got a thread at once.
            using var allRunning = new CountdownEvent(threads);
            var steps = Enumerable.Range(0, threads).Select(_ =>
            {
                Assert.True(pool.TryRun(() =>
                {
                    allRunning.Signal();
                    if (!allRunning.Wait(Prompt)) throw new TimeoutException($"only {threads - allRunning.CurrentCount} of {threads} steps were running");
                }, out var step));
                return step;
            }).ToList();
            await Task.WhenAll(steps).WaitAsync(2 * Prompt);
        }
    }

    [Fact]
    public async Task Steps_from_many_producers_each_run_exactly_once()
    {
        const int producers = 4, perProducer = 5_000;
        using var pool = new HandshakeWorkerPool(threads: 8, queueLength: producers * perProducer);
        var runs = new int[producers * perProducer];
        var queued = await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(() =>
        {
            var steps = new List<Task>();
            for (var i = 0; i < perProducer; i++)
            {
                var index = p * perProducer + i;
                Assert.True(pool.TryRun(() => Interlocked.Increment(ref runs[index]), out var step));
                steps.Add(step);
                // Bursts and gaps, so threads keep going idle and being woken while other producers queue.
                if (i % 64 == 0) Thread.Sleep(0);
            }
            return steps;
        })));
        await Task.WhenAll(queued.SelectMany(s => s)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(runs, count => Assert.Equal(1, count));
    }

    [Fact]
    public async Task Dispose_stops_every_thread_idle_or_busy()
    {
        const int threads = 6;
        var pool = new HandshakeWorkerPool(threads, queueLength: threads);
        var seen = new ConcurrentDictionary<Thread, bool>();
        // All threads run a step at once, so the test knows each of them; then half go idle and half stay busy a little.
        using var allRunning = new CountdownEvent(threads);
        using var release = new ManualResetEventSlim();
        var steps = Enumerable.Range(0, threads).Select(i =>
        {
            Assert.True(pool.TryRun(() =>
            {
                seen[Thread.CurrentThread] = true;
                allRunning.Signal();
                allRunning.Wait(Prompt);
                if (i % 2 == 0) release.Wait(Prompt);
            }, out var step));
            return step;
        }).ToList();
        await UntilAsync(() => allRunning.IsSet && pool.Busy == threads / 2, "half the threads to go idle");

        var clock = Stopwatch.StartNew();
        var disposing = Task.Run(pool.Dispose);
        release.Set();
        await disposing.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(clock.Elapsed < Prompt, $"Dispose took {clock.Elapsed}: it waited for threads that were never told to stop");
        Assert.Equal(threads, seen.Count);
        Assert.All(seen.Keys, thread => Assert.False(thread.IsAlive, $"{thread.Name} still runs after Dispose"));
        await Task.WhenAll(steps).WaitAsync(Prompt);
        Assert.False(pool.TryRun(() => { }, out _));
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Prompt, $"waited {clock.Elapsed} for {what}");
            await Task.Delay(1);
        }
    }
}
