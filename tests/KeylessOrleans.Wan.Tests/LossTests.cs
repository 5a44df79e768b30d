using KeylessOrleans.TestSupport.Load;
using KeylessOrleans.Wan.Tests.Link;
using Xunit.Abstractions;

namespace KeylessOrleans.Wan.Tests;

/// <summary>A lossy link to the tenant's key server (1 % of TCP segments lost, each costing a retransmission).</summary>
[Collection(nameof(WanClusterCollection))]
public sealed class LossTests(WanCluster cluster, ITestOutputHelper output)
{
    /// <summary>The edge's default Keyless:Edge:KeyCallTimeout.</summary>
    private static readonly TimeSpan KeyCallTimeout = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task With_one_percent_loss_handshakes_still_complete_within_the_deadline()
    {
        var lossy = new LinkSettings(Delay: TimeSpan.FromMilliseconds(15), Jitter: TimeSpan.FromMilliseconds(2), Loss: 0.01);
        cluster.Link.Set(lossy);
        await using var load = cluster.Load(TimeSpan.FromMinutes(5));
        load.Add("alpha", cluster.EdgeTls, WanCluster.AlphaHost, 8);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var from = load.Now;
        cluster.Link.TakeHoldTimes();
        await Task.Delay(WanDrill.Phase(5));
        var to = load.Now;
        var holds = cluster.Link.TakeHoldTimes();
        var samples = (await load.StopAsync()).Between(from, to).ToList();
        cluster.Link.Set(new LinkSettings());

        var stalled = holds.Count(h => h >= lossy.Retransmit.TotalMilliseconds);
        var slowest = samples.Select(s => s.Duration).DefaultIfEmpty().Max();
        output.WriteLine($"{lossy}: {samples.Summary()}; slowest {slowest.TotalMilliseconds:0} ms; {stalled} of {holds.Count} chunks crossed with a retransmission");
        foreach (var failure in samples.Where(s => !s.Ok).Take(3)) output.WriteLine($"  {failure.Error}");
        WanDrill.Report($"loss-1%: {samples.Summary()}; slowest {slowest.TotalMilliseconds:0} ms; {stalled} of {holds.Count} chunks retransmitted");

        Assert.True(samples.Count > 50, $"too few handshakes to judge: {samples.Count}");
        Assert.True(stalled > 0, "no chunk was lost: the test did not test loss");
        Assert.All(samples, s => Assert.True(s.Ok, s.Error));
        Assert.True(slowest < KeyCallTimeout, $"a handshake took {slowest.TotalMilliseconds:0} ms");
    }
}
