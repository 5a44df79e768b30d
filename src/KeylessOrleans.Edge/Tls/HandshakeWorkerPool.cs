namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// Dedicated threads for handshake steps. BouncyCastle's key callbacks are synchronous, so a step that needs
/// a key operation blocks its thread for one key-server round trip; on the shared thread pool that starves
/// everything else. The queue is bounded: when it is full a step is refused at once (load shedding) instead
/// of waiting behind work that may already be past its deadline.
/// Each queued step wakes exactly one idle thread (Monitor.Pulse), and an idle thread sleeps without spinning.
/// Not a multi-reader Channel: its WaitToReadAsync wakes every waiting reader for each item, and with 128 mostly
/// idle threads that herd of blocking waits, each spinning before it sleeps, takes most of the edge's CPU under
/// resumed handshakes. Spinning at all only trades cores for latency, and on a 2-core edge the cores are what the
/// handshakes need.
/// </summary>
internal sealed class HandshakeWorkerPool : IDisposable
{
    private readonly Queue<WorkItem> _queue = new();
    private readonly int _queueLength;
    private readonly Thread[] _threads;
    private bool _stopping;
    private int _busy;

    public HandshakeWorkerPool(int threads, int queueLength)
    {
        _queueLength = queueLength;
        _threads = Enumerable.Range(0, threads)
            .Select(i => new Thread(Work) { IsBackground = true, Name = $"keyless-handshake-{i}" })
            .ToArray();
        foreach (var thread in _threads) thread.Start();
    }

    /// <summary>Threads running a step right now.</summary>
    public int Busy => Volatile.Read(ref _busy);

    /// <summary>Steps waiting for a thread.</summary>
    public int Queued
    {
        get
        {
            lock (_queue) return _queue.Count;
        }
    }

    /// <summary>Runs <paramref name="step"/> on a handshake thread; false (without running it) when the queue is full.</summary>
    public bool TryRun(Action step, out Task completion)
    {
        var item = new WorkItem(step);
        completion = item.Completion.Task;
        lock (_queue)
        {
            if (_stopping || _queue.Count >= _queueLength) return false;
            _queue.Enqueue(item);
            Monitor.Pulse(_queue);
        }
        return true;
    }

    private void Work()
    {
        while (Next() is { } item)
        {
            Interlocked.Increment(ref _busy);
            try
            {
                item.Step();
                item.Completion.TrySetResult();
            }
            catch (Exception e)
            {
                item.Completion.TrySetException(e);
            }
            finally
            {
                Interlocked.Decrement(ref _busy);
            }
        }
    }

    /// <returns>The next step, or null when the pool is stopping.</returns>
    private WorkItem? Next()
    {
        lock (_queue)
        {
            while (_queue.Count == 0)
            {
                if (_stopping) return null;
                Monitor.Wait(_queue);
            }
            return _queue.Dequeue();
        }
    }

    public void Dispose()
    {
        lock (_queue)
        {
            _stopping = true;
            Monitor.PulseAll(_queue);
        }
        foreach (var thread in _threads) thread.Join(TimeSpan.FromSeconds(5));
    }

    private sealed record WorkItem(Action Step)
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
