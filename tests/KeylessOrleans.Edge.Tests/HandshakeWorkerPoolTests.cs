using KeylessOrleans.Edge.Tls;

namespace KeylessOrleans.Edge.Tests;

public sealed class HandshakeWorkerPoolTests
{
    [Fact]
    public async Task A_full_queue_refuses_at_once_instead_of_waiting()
    {
        using var pool = new HandshakeWorkerPool(threads: 1, queueLength: 1);
        using var release = new ManualResetEventSlim();
        Assert.True(pool.TryRun(() => release.Wait(), out var running));
        while (pool.Busy == 0) await Task.Delay(10);          // the only thread is now blocked (a slow key call)
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
        await Assert.ThrowsAsync<IOException>(() => step);
    }
}
