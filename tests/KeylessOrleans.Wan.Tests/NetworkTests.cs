using System.Net;
using System.Net.Sockets;
using KeylessOrleans.TestSupport;
using KeylessOrleans.Wan.Tests.Network;

namespace KeylessOrleans.Wan.Tests;

/// <summary>The harness itself: the proxy is the only way between the sites, and a partition cuts it.</summary>
[Collection(nameof(WanClusterCollection))]
public sealed class NetworkTests(WanCluster cluster)
{
    private static readonly IPEndPoint EdgeSiloDirect = new(WanTopology.EdgeLan, 11111);
    private static readonly IPEndPoint EdgeSiloAdvertised = new(WanTopology.EdgeSite, 11111);

    [Fact]
    public async Task The_tenant_site_reaches_the_edges_only_through_the_proxy()
    {
        Assert.Null(await TryConnectAsync(EdgeSiloAdvertised));
        Assert.NotNull(await TryConnectAsync(EdgeSiloDirect));
    }

    [Fact]
    public async Task A_partition_cuts_the_tenant_site_off_and_healing_reconnects_it()
    {
        await cluster.PartitionAsync();
        try
        {
            Assert.NotNull(await TryConnectAsync(EdgeSiloAdvertised));
        }
        finally
        {
            await cluster.HealAsync();
        }
        // The link needs a moment after it comes back (carrier, neighbour discovery; a SYN lost meanwhile is only
        // retried after 1 s), as a real one does.
        Assert.True(await Poll.UntilAsync(async () => await TryConnectAsync(EdgeSiloAdvertised) is null, TimeSpan.FromSeconds(10)),
            "the tenant site did not reach the edges again within 10 s of the link returning");
    }

    /// <summary>Connects from the tenant site and exchanges nothing: null if connected, else why not.</summary>
    private async Task<string?> TryConnectAsync(IPEndPoint target)
    {
        using var socket = cluster.Network.OnPrem.NewSocket();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await socket.ConnectAsync(target, limit.Token);
            return null;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return e.GetType().Name;
        }
    }
}
