namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// Dedicated threads for handshake steps. BouncyCastle's key callbacks are synchronous, so a step that needs
/// a key operation blocks its thread for one key-server round trip; on the shared thread pool that starves
/// everything else. The queue is bounded: when it is full a step is refused at once (load shedding) instead
/// of waiting behind work that may already be past its deadline.
/// Each queued step wakes at most one idle thread, through that thread's own wake-up, after the queue's lock is
/// released: the woken thread does not fight the queuing one, nor the other idle threads, for a shared lock, and an
/// idle thread sleeps without spinning (spinning only trades cores for latency, and on a 2-core edge the cores are what
/// the handshakes need). Idle threads are woken last-idle-first, so the few threads a light load needs stay warm.
/// Not a multi-reader Channel: its WaitToReadAsync wakes every waiting reader for each item.
/// </summary>
internal sealed class HandshakeWorkerPool : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Queue<WorkItem> _queue = new();
    private readonly Stack<Worker> _idle = new();
    private readonly int _queueLength;
    private readonly Thread[] _threads;
    private bool _stopping;
    private int _busy;

    public HandshakeWorkerPool(int threads, int queueLength)
    {
        _queueLength = queueLength;
        _threads = Enumerable.Range(0, threads)
            .Select(i => new Thread(new Worker(this).Work) { IsBackground = true, Name = $"keyless-handshake-{i}" })
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
            lock (_gate) return _queue.Count;
        }
    }

    /// <summary>Runs <paramref name="step"/> on a handshake thread; false (without running it) when the queue is full.</summary>
    public bool TryRun(Action step, out Task completion)
    {
        var item = new WorkItem(step);
        completion = item.Completion.Task;
        Worker? wake;
        lock (_gate)
        {
            if (_stopping || _queue.Count >= _queueLength) return false;
            _queue.Enqueue(item);
            _idle.TryPop(out wake);
        }
        wake?.Wake();
        return true;
    }

    /// <returns>The next step, or null when the pool is stopping; parks <paramref name="worker"/> while there is none.</returns>
    private WorkItem? Next(Worker worker)
    {
        while (true)
        {
            lock (_gate)
            {
                if (_queue.TryDequeue(out var item)) return item;
                if (_stopping) return null;
                _idle.Push(worker);
            }
            // Popped from the idle stack by exactly one TryRun or by Dispose, each of which wakes it once. Another
            // thread may take the step first; then this one parks again.
            worker.Park();
        }
    }

    public void Dispose()
    {
        Worker[] idle;
        lock (_gate)
        {
            _stopping = true;
            idle = [.. _idle];
            _idle.Clear();
        }
        foreach (var worker in idle) worker.Wake();
        foreach (var thread in _threads) thread.Join(TimeSpan.FromSeconds(5));
    }

    private sealed class Worker(HandshakeWorkerPool pool)
    {
        // No spinning before it sleeps (spinCount 0): the wake-up may be seconds away.
        private readonly ManualResetEventSlim _wake = new(initialState: false, spinCount: 0);

        public void Wake() => _wake.Set();

        public void Park()
        {
            _wake.Wait();
            _wake.Reset(); // only its one waker sets it, and that waker took it off the idle stack first
        }

        public void Work()
        {
            while (pool.Next(this) is { } item)
            {
                Interlocked.Increment(ref pool._busy);
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
                    Interlocked.Decrement(ref pool._busy);
                }
            }
        }
    }

    private sealed record WorkItem(Action Step)
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
