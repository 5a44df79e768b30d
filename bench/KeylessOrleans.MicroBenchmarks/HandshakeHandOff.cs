using BenchmarkDotNet.Attributes;
using KeylessOrleans.Edge.Tls;

namespace KeylessOrleans.MicroBenchmarks;

/// <summary>
/// What it costs to move one handshake step to the handshake threads and back (the edge does it for every step
/// that may wait for the key server) against running it on the calling thread (steps that cannot).
/// </summary>
public class HandshakeHandOff
{
    private HandshakeWorkerPool _pool = null!;
    private int _counter;

    [Params(128)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup() => _pool = new HandshakeWorkerPool(Threads, 1024);

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Baseline = true)]
    public void Inline() => Step();

    [Benchmark]
    public async Task HandshakeThread()
    {
        if (!_pool.TryRun(Step, out var done)) throw new InvalidOperationException("queue full");
        await done;
    }

    private void Step() => Interlocked.Increment(ref _counter);
}
