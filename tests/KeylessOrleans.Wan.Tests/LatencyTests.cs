using KeylessOrleans.TestSupport.Load;
using KeylessOrleans.Wan.Tests.Clients;
using KeylessOrleans.Wan.Tests.Link;
using Xunit.Abstractions;

namespace KeylessOrleans.Wan.Tests;

/// <summary>What a 30 ms round trip to the tenant's key server does to handshakes.</summary>
[Collection(nameof(WanClusterCollection))]
public sealed class LatencyTests(WanCluster cluster, ITestOutputHelper output)
{
    private static readonly LinkSettings Loopback = new();
    private static readonly LinkSettings Wan30 = new(Delay: TimeSpan.FromMilliseconds(15));

    [Fact]
    public async Task A_full_handshake_pays_one_round_trip_to_the_key_server_and_no_more()
    {
        await using var load = cluster.Load(TimeSpan.FromMinutes(5));
        await using var ping = cluster.Ping();
        ping.Start(cluster.Network.Edges.NewSocket, WanCluster.PingTarget, () => load.Now);
        load.Add("alpha", cluster.EdgeTls, WanCluster.AlphaHost, clients: 1);
        var result = await new Slices(cluster.Link, Loopback, Wan30).RunAsync(load, rounds: 3, WanDrill.Phase(1));

        var (near, far) = (result.Baseline.DurationPercentileMs(50), result.Changed.DurationPercentileMs(50));
        var added = far - near;
        // "One RTT" as a TCP ping across the same link at the same moments measures it: what the proxy adds (its
        // timers fire late by a ms or two under load) plus what waking idle processes costs on this machine.
        var pings = ping.Samples.Select(p => (p.At, p.RttMs)).ToList();
        var (pingNear, pingFar) = (result.In(pings, false, v => v).Percentile(50), result.In(pings, true, v => v).Percentile(50));
        var appliedRtt = pingFar - pingNear;
        output.WriteLine($"link 0 ms:  {result.Baseline.Summary()}");
        output.WriteLine($"link 30 ms: {result.Changed.Summary()}; the proxy held chunks p50 {result.ChangedHoldMs.Percentile(50):0.00} ms each way");
        output.WriteLine($"TCP ping across the link: p50 {pingNear:0.00} ms -> {pingFar:0.00} ms");
        var addedAtP10 = result.Changed.DurationPercentileMs(10) - result.Baseline.DurationPercentileMs(10);
        output.WriteLine($"added p50 {added:0.0} ms (p10 {addedAtP10:0.0} ms) for an RTT of {appliedRtt:0.0} ms added by the link (TCP ping; nominal 30 ms)");
        WanDrill.Report($"full-handshake-latency: p50 {near:0.0} -> {far:0.0} ms, added {added:0.0} ms (at p10 {addedAtP10:0.0} ms); RTT added by the link {appliedRtt:0.0} ms (TCP ping p50), proxy hold p50 {result.ChangedHoldMs.Percentile(50):0.00} ms each way; n={result.Baseline.Count}/{result.Changed.Count}");

        Assert.True(result.Baseline.Count > 20 && result.Changed.Count > 20, "too few handshakes to judge");
        Assert.All(result.Baseline.Concat(result.Changed), s => Assert.True(s.Ok, s.Error));
        // Target: ≤ RTT + 1 ms at p50 (the long form's figure, docs/wan.md). On a shared 2-core machine the medians of
        // two slices differ by several ms of noise, so CI asks for what separates one round trip from none or two.
        Assert.True(added > appliedRtt / 2, $"handshakes got only {added:0.0} ms slower: is the key server's link in the path at all?");
        Assert.True(added < 1.5 * appliedRtt, $"a full handshake paid {added:0.0} ms for a {appliedRtt:0.0} ms round trip: more than one round trip");
    }

    [Fact]
    public async Task Resumed_handshakes_do_not_feel_the_round_trip()
    {
        var client = new ResumingTlsClient(cluster.EdgeTls, WanCluster.AlphaHost, cluster.Network.Edges.NewSocket);
        var timings = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        var notResumed = 0;
        await Task.Run(() =>
        {
            client.Handshake(); // the full handshake that opens the session
            var slice = WanDrill.Phase(1);
            for (var round = 0; round < 3; round++)
            foreach (var far in new[] { false, true })
            {
                cluster.Link.Set(far ? Wan30 : Loopback);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (clock.Elapsed < slice)
                {
                    var (duration, resumed) = client.Handshake();
                    if (resumed) timings[far].Add(duration.TotalMilliseconds);
                    else notResumed++;
                }
            }
            cluster.Link.Set(Loopback);
        });

        var (near, far) = (timings[false].Percentile(50), timings[true].Percentile(50));
        output.WriteLine($"resumed TLS 1.2: link 0 ms p50 {near:0.00} ms (n={timings[false].Count}), link 30 ms p50 {far:0.00} ms (n={timings[true].Count}); not resumed: {notResumed}");
        WanDrill.Report($"resumed-latency: p50 {near:0.00} -> {far:0.00} ms; n={timings[false].Count}/{timings[true].Count}; not resumed {notResumed}");
        Assert.True(timings[false].Count > 20 && timings[true].Count > 20, "too few resumed handshakes to judge");
        Assert.True(notResumed <= 1, $"{notResumed} handshakes were not resumed"); // one may miss when its session's certificate moved on
        Assert.True(far <= near * 1.3 + 1, $"resumed handshakes went from {near:0.00} ms to {far:0.00} ms at p50 with a 30 ms link");
    }

    [Fact]
    public async Task Handshake_throughput_over_a_30_ms_link_matches_loopback()
    {
        // Enough clients that the edge, not the clients' own waiting, limits the rate at 30 ms: each client does one
        // handshake at a time, so it takes about rate × (RTT + latency at loopback) of them — ~60 at 700/s — and
        // fewer than the tenant's bulkhead on the edge (MaxKeyCallsPerTenant, sized for that in WanCluster), which
        // would shed the excess at once.
        await using var load = cluster.Load(TimeSpan.FromMinutes(5));
        load.Add("alpha", cluster.EdgeTls, WanCluster.AlphaHost, clients: Clients);
        var result = await new Slices(cluster.Link, Loopback, Wan30).RunAsync(load, rounds: 3, WanDrill.Phase(2));

        var near = result.Baseline.Count(s => s.Ok) / result.BaselineTime.TotalSeconds;
        var far = result.Changed.Count(s => s.Ok) / result.ChangedTime.TotalSeconds;
        output.WriteLine($"link 0 ms:  {near:0} handshakes/s; {result.Baseline.Summary()}");
        output.WriteLine($"link 30 ms: {far:0} handshakes/s; {result.Changed.Summary()}");
        output.WriteLine($"ratio {far / near:0.00}");
        WanDrill.Report($"throughput: {near:0}/s -> {far:0}/s, ratio {far / near:0.00}; p50 {result.Baseline.DurationPercentileMs(50):0.0} -> {result.Changed.DurationPercentileMs(50):0.0} ms");

        Assert.All(result.Baseline.Concat(result.Changed), s => Assert.True(s.Ok, s.Error));
        Assert.True(near > 20, $"only {near:0} handshakes/s on loopback: too little to judge");
        // Target ≥ 0.9 (the long form's figure, docs/wan.md). CI judges ≥ 0.6 on the shared machine: what it must
        // catch is anything that serialises on the link, which caps the rate near 1 / RTT (~30/s).
        Assert.True(far >= 0.6 * near, $"throughput fell from {near:0}/s to {far:0}/s over a 30 ms link");
    }

    private const int Clients = 96;

}
