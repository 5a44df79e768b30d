using System.Threading.Channels;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// Dedicated threads for handshake steps. BouncyCastle's key callbacks are synchronous, so a step that needs
/// a key operation blocks its thread for one key-server round trip; on the shared thread pool that starves
/// everything else. The queue is bounded: when it is full a step is refused at once (load shedding) instead
/// of waiting behind work that may already be past its deadline.
/// </summary>
public sealed class HandshakeWorkerPool : IDisposable
{
    private readonly Channel<WorkItem> _queue;
    private readonly Thread[] _threads;
    private int _busy;

    public HandshakeWorkerPool(int threads, int queueLength)
    {
        _queue = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(queueLength)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full; nothing waits
            SingleWriter = false,
            SingleReader = false,
        });
        _threads = Enumerable.Range(0, threads)
            .Select(i => new Thread(Work) { IsBackground = true, Name = $"keyless-handshake-{i}" })
            .ToArray();
        foreach (var thread in _threads) thread.Start();
    }

    /// <summary>Threads running a step right now.</summary>
    public int Busy => Volatile.Read(ref _busy);

    /// <summary>Steps waiting for a thread.</summary>
    public int Queued => _queue.Reader.Count;

    /// <summary>Runs <paramref name="step"/> on a handshake thread; false (without running it) when the queue is full.</summary>
    public bool TryRun(Action step, out Task completion)
    {
        var item = new WorkItem(step);
        completion = item.Completion.Task;
        return _queue.Writer.TryWrite(item);
    }

    private void Work()
    {
        var reader = _queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var item))
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
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        foreach (var thread in _threads) thread.Join(TimeSpan.FromSeconds(5));
    }

    private sealed record WorkItem(Action Step)
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
