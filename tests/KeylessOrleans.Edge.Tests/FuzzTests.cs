using System.Diagnostics;
using System.Security.Authentication;
using System.Text;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Fuzzing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// Thousands of malformed first flights against the TLS port: every connection is closed by the edge within its
/// handshake timeout, nothing crashes or leaks, and a real client is served right afterwards. CI runs
/// KEYLESS_FUZZ_INPUTS (default 10,000) inputs; tests/fuzz/run-long.sh runs many more.
/// </summary>
public sealed class FuzzTests(EdgeFixture edge, ITestOutputHelper output) : IClassFixture<EdgeFixture>
{
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(3); // a loaded 2-core CI machine is slow to close
    private const int TrickleClients = 4;

    [Fact]
    public async Task Malformed_client_hellos_are_all_closed_in_time_and_the_edge_keeps_serving()
    {
        var inputs = Setting("KEYLESS_FUZZ_INPUTS", 10_000);
        var concurrency = Setting("KEYLESS_FUZZ_CONCURRENCY", 48);
        var seed = Setting("KEYLESS_FUZZ_SEED", Random.Shared.Next());
        var fuzzer = new ClientHelloFuzzer(seed, EdgeFixture.Host);
        var limit = edge.EdgePlan.HandshakeTimeout + Margin;
        output.WriteLine($"seed {seed} (KEYLESS_FUZZ_SEED={seed} reproduces the inputs), {inputs} inputs, {concurrency} at a time");

        // Warm up (JIT, pools, caches) with other inputs, so the memory baseline is not the first-use cost.
        var warmUp = new ClientHelloFuzzer(seed + 1, EdgeFixture.Host);
        await RunAsync(Enumerable.Range(0, 300).Select(warmUp.Create), concurrency, limit, new FuzzTally(limit));
        await WaitUntilIdleAsync();
        var memoryBefore = HeapWithoutRecordedGrainCalls();
        var workingSetBefore = Environment.WorkingSet;

        using var meters = new EdgeMeterRecorder(edge, ("keyless.edge.handshakes", "outcome"), ("keyless.edge.connections.refused", "reason"));
        using var sampling = new CancellationTokenSource();
        var peak = SamplePeakMemoryAsync(sampling.Token);
        var clock = Stopwatch.StartNew();
        var trickles = Enumerable.Range(0, TrickleClients)
            .Select(i => FuzzClient.TrickleAsync(edge.EdgeEndPoint, fuzzer.TricklePrefix(i), TimeSpan.FromMilliseconds(100), limit + Margin))
            .ToArray();
        var tally = new FuzzTally(limit);
        await RunAsync(Enumerable.Range(0, inputs).Select(fuzzer.Create), concurrency, limit, tally);
        var trickled = await Task.WhenAll(trickles);
        var elapsed = clock.Elapsed;
        await sampling.CancelAsync();
        var peakMemory = await peak;

        Assert.Equal(inputs, tally.Count);
        Assert.True(tally.Failed == 0, $"seed {seed}: {tally.Failed} connections not closed within {limit}, e.g.:\n"
            + string.Join("\n", tally.Failures.Select(f => $"{f} — {fuzzer.Create(f.Index)}")));
        var handshakeTimeout = edge.EdgePlan.HandshakeTimeout;
        Assert.All(trickled, t => Assert.InRange(t, handshakeTimeout - TimeSpan.FromMilliseconds(200), handshakeTimeout + Margin));

        // Right afterwards, a real client is served, and nothing is left behind.
        var (tls, response) = await edge.FetchAsync(SslProtocols.Tls13);
        tls.Dispose();
        Assert.StartsWith("HTTP/1.1 200 OK", response);
        await WaitUntilIdleAsync();
        Assert.Equal(0, edge.Listener.OpenClientAddresses);
        // Every connection ended with its outcome recorded: none ended through an exception that escaped.
        Assert.Equal(inputs + TrickleClients + 1, meters.ByTag("keyless.edge.handshakes").Values.Sum());
        Assert.Empty(meters.ByTag("keyless.edge.connections.refused"));
        var memoryAfter = HeapWithoutRecordedGrainCalls();

        var report = Report(seed, inputs, concurrency, elapsed, tally, trickled, meters, memoryBefore, peakMemory, memoryAfter)
            + $"process working set: before {workingSetBefore / 1048576.0:F1} MB, after {Environment.WorkingSet / 1048576.0:F1} MB\n";
        output.WriteLine(report);
        if (Environment.GetEnvironmentVariable("KEYLESS_FUZZ_REPORT") is { Length: > 0 } path) await File.WriteAllTextAsync(path, report);
        Assert.True(memoryAfter - memoryBefore < 32 << 20, $"managed heap grew by {(memoryAfter - memoryBefore) >> 20} MB");
    }

    /// <summary>
    /// A browser-sized ClientHello with an X25519MLKEM768 share (~1.5 KB) still gets a hybrid ServerHello when it
    /// arrives cut into many records, into many TCP segments, or both (a record split across segments).
    /// </summary>
    [Theory]
    [InlineData(16384, 100)] // one record, many segments
    [InlineData(97, 4096)] // many records, one segment
    [InlineData(300, 41)] // many records, each across segments
    public async Task A_hybrid_share_client_hello_split_across_records_and_segments_gets_a_hybrid_server_hello(int recordSize, int segmentSize)
    {
        var hello = ClientHelloBuilder.Standard(new Random(recordSize ^ segmentSize), EdgeFixture.Host, hybrid: true);
        var bytes = ClientHelloBuilder.Fragment(22, 0x0301, hello.HandshakeMessage(), () => recordSize);
        var answer = await ServerHelloProbe.SendAsync(edge.EdgeEndPoint, bytes, segmentSize, TimeSpan.FromSeconds(20));
        Assert.Null(answer.Alert);
        Assert.False(answer.HelloRetryRequest);
        Assert.Equal(ClientHelloBuilder.X25519MLKem768, answer.Group);
        Assert.Equal(1088 + 32, answer.ServerShareLength); // ML-KEM-768 ciphertext, X25519 public key
    }

    /// <summary>
    /// The managed heap after a full collection, without the test cluster's record of every grain call (test
    /// bookkeeping that grows with each key call; the custody tests read it, this one does not).
    /// </summary>
    private long HeapWithoutRecordedGrainCalls()
    {
        edge.Cluster.Calls.Messages.Clear();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>
    /// Runs the inputs <paramref name="concurrency"/> at a time. Inputs after which the client keeps quiet wait for
    /// the edge's timeout aside (a bounded number at once), so they do not hold up the rest.
    /// </summary>
    private async Task RunAsync(IEnumerable<FuzzInput> inputs, int concurrency, TimeSpan limit, FuzzTally results)
    {
        using var waitingAside = new SemaphoreSlim(2 * concurrency);
        var aside = new System.Collections.Concurrent.ConcurrentBag<Task>();
        await Parallel.ForEachAsync(inputs, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (input, _) =>
        {
            if (input.Ending != FuzzEnding.KeepOpen)
            {
                results.Add(await FuzzClient.SendAsync(edge.EdgeEndPoint, input, limit));
                return;
            }
            await waitingAside.WaitAsync();
            aside.Add(Task.Run(async () =>
            {
                try
                {
                    results.Add(await FuzzClient.SendAsync(edge.EdgeEndPoint, input, limit));
                }
                finally
                {
                    waitingAside.Release();
                }
            }));
        });
        await Task.WhenAll(aside);
    }

    private async Task WaitUntilIdleAsync()
    {
        var pool = edge.EdgeServices.GetRequiredService<HandshakeWorkerPool>();
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(edge.Listener.OpenConnections == 0 && pool.Busy == 0 && pool.Queued == 0), TimeSpan.FromSeconds(10)),
            $"still open: {edge.Listener.OpenConnections} connections, {pool.Busy} busy handshake threads, {pool.Queued} queued steps");
    }

    private static async Task<long> SamplePeakMemoryAsync(CancellationToken stop)
    {
        long peak = 0;
        while (!stop.IsCancellationRequested)
        {
            peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: false));
            try { await Task.Delay(100, stop); } catch (OperationCanceledException) { }
        }
        return peak;
    }

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var value) ? value : fallback;

    private static string Report(int seed, int inputs, int concurrency, TimeSpan elapsed, FuzzTally tally, TimeSpan[] trickled,
        EdgeMeterRecorder meters, long before, long peak, long after)
    {
        static string Mb(long bytes) => $"{bytes / 1048576.0:F1} MB";
        static string Counts<TValue>(IEnumerable<KeyValuePair<string, TValue>> counts) where TValue : System.Numerics.INumber<TValue> =>
            string.Join(", ", counts.OrderByDescending(c => c.Value).Select(c => $"{c.Key} {c.Value}"));
        var text = new StringBuilder();
        text.AppendLine($"seed {seed}; {inputs} inputs, {concurrency} concurrent, {elapsed.TotalSeconds:F1} s ({inputs / elapsed.TotalSeconds:F0} connections/s)");
        text.AppendLine($"client saw: {Counts(tally.Outcomes)}");
        text.AppendLine($"by ending: {Counts(tally.Endings)}; slowest close {tally.Slowest.TotalSeconds:F2} s, slowest after a half-close {tally.SlowestAfterHalfClose.TotalSeconds:F2} s");
        text.AppendLine($"inputs by kind: {Counts(tally.Kinds)}");
        text.AppendLine($"edge handshake outcomes: {Counts(meters.ByTag("keyless.edge.handshakes"))}");
        text.AppendLine($"slow-trickle clients closed after: {string.Join(", ", trickled.Select(t => $"{t.TotalSeconds:F2} s"))}");
        text.AppendLine($"managed heap (process: cluster + edge + clients): before {Mb(before)}, peak sampled {Mb(peak)}, after {Mb(after)}");
        return text.ToString();
    }
}
