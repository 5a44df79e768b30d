using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Xunit.Abstractions;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>
/// A change to the registry costs what it changes: the bytes it writes to storage and sends to each edge are the same
/// at 10,000 tenants as at 100, and an edge holds only the tenants it serves.
/// </summary>
public sealed class ControlPlaneScaleTests(ITestOutputHelper output) : IAsyncLifetime
{
    private KeylessTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await KeylessTestCluster.StartAsync(new SiloPlan.Edge());

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private IRegistryGrain Registry => _cluster.Grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);

    private RouteTable Routes => _cluster.Services(_cluster.Cluster.Silos[0]).GetRequiredService<RouteTable>();

    /// <summary>Ten names, as the target tenants have; names of equal length for every tenant of one size.</summary>
    private static TenantSettings Tenant(string name, int port = 8080) =>
        new(name, [.. Enumerable.Range(0, 10).Select(i => $"h{i}.{name}.test")], new OriginEndpoint("127.0.0.1", port));

    [Fact]
    public async Task A_change_writes_and_sends_the_same_bytes_at_10000_tenants_as_at_100()
    {
        await AddTenantsAsync(0, 100);
        var small = await MeasureAsync("probe-a");

        await AddTenantsAsync(100, 10_000);
        var large = await MeasureAsync("probe-b");

        output.WriteLine($"at 100 tenants:    {small}");
        output.WriteLine($"at 10,000 tenants: {large}");
        // Adding a tenant: its record, its ten names, one directory shard (a few names more at 10,000 tenants).
        Assert.Equal(small.AddWrites, large.AddWrites);
        Assert.InRange(large.AddBytes, small.AddBytes, small.AddBytes + 256);
        // Changing one: its record alone.
        Assert.Equal(1, large.ChangeWrites);
        Assert.Equal(small.ChangeBytes, large.ChangeBytes);
        // What an edge receives for either: the feed's entry, and the one tenant's record when it next serves it.
        Assert.InRange(large.FeedBytes, small.FeedBytes, small.FeedBytes + 8); // sequence numbers are varints
        Assert.Equal(small.TenantBytes, large.TenantBytes);
        Assert.InRange(large.FeedBytes, 1, 1024);
    }

    [Fact]
    public async Task An_edge_holds_only_the_tenants_it_served_and_a_served_change_reaches_it()
    {
        await AddTenantsAsync(0, 1_000);
        var routes = Routes;
        await CaughtUpAsync(); // the feed's entries for those additions would otherwise drop what is resolved next
        for (var i = 0; i < 10; i++) Assert.Equal($"t{i:D5}", routes.Resolve($"h3.t{i:D5}.test")?.TenantName);
        Assert.Equal(10, routes.CachedTenants);

        await Registry.SetTenantAsync(Tenant("t00003", port: 9999));
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(routes.Resolve("h0.t00003.test")?.Tenant.Origin.Port == 9999), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Routing_prefers_exact_names_follows_a_moved_name_and_forgets_a_removed_tenant()
    {
        var routes = Routes;
        await Registry.SetTenantAsync(new TenantSettings("shop", ["*.shop.test"], new OriginEndpoint("127.0.0.1", 1)));
        await Registry.SetTenantAsync(new TenantSettings("vip", ["vip.shop.test", "moving.test"], new OriginEndpoint("127.0.0.1", 2)));
        Assert.Equal("vip", routes.Resolve("vip.shop.test")?.TenantName);
        Assert.Equal("shop", routes.Resolve("www.shop.test")?.TenantName);
        Assert.Equal("vip", routes.Resolve("moving.test")?.TenantName);

        // A name held by one tenant is refused to another until its holder lets it go.
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => Registry.SetTenantAsync(new TenantSettings("blog", ["moving.test"], new OriginEndpoint("127.0.0.1", 3))));
        Assert.Contains("given to tenant vip", refused.Message);
        await Registry.SetTenantAsync(new TenantSettings("vip", ["vip.shop.test"], new OriginEndpoint("127.0.0.1", 2)));
        await Registry.SetTenantAsync(new TenantSettings("blog", ["moving.test"], new OriginEndpoint("127.0.0.1", 3)));
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(routes.Resolve("moving.test")?.TenantName == "blog"), TimeSpan.FromSeconds(10)));

        await Registry.RemoveTenantAsync("shop");
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(routes.Resolve("www.shop.test") is null), TimeSpan.FromSeconds(10)));
        Assert.Equal("vip", routes.Resolve("vip.shop.test")?.TenantName);
        Assert.Null(await Registry.GetTenantAsync("shop"));
        Assert.Equal(["blog", "vip"], await Registry.ListTenantsAsync(null, 100));
        // The name is free again.
        await Registry.SetTenantAsync(new TenantSettings("shop2", ["*.shop.test"], new OriginEndpoint("127.0.0.1", 4)));
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(routes.Resolve("www.shop.test")?.TenantName == "shop2"), TimeSpan.FromSeconds(10)));
    }

    private async Task CaughtUpAsync()
    {
        var now = (await _cluster.Grains.GetGrain<IRegistryFeedGrain>(IRegistryGrain.DefaultKey).ReadAsync(FeedPosition.Start, 1)).Position;
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(Routes.Position.Epoch == now.Epoch && Routes.Position.Sequence >= now.Sequence), TimeSpan.FromSeconds(30)));
    }

    private async Task AddTenantsAsync(int from, int to)
    {
        foreach (var batch in Enumerable.Range(from, to - from).Chunk(200))
            await Task.WhenAll(batch.Select(i => Registry.SetTenantAsync(Tenant($"t{i:D5}"))));
    }

    private async Task<Cost> MeasureAsync(string probe)
    {
        var feed = _cluster.Grains.GetGrain<IRegistryFeedGrain>(IRegistryGrain.DefaultKey);
        var serializer = _cluster.Services(_cluster.Cluster.Silos[0]).GetRequiredService<Serializer>();
        var before = (await feed.ReadAsync(FeedPosition.Start, 1)).Position; // a start-over answer: where the feed is now

        _cluster.RegistryStorage.Reset();
        await Registry.SetTenantAsync(Tenant(probe));
        var (addWrites, addBytes) = (_cluster.RegistryStorage.Writes, _cluster.RegistryStorage.Bytes);

        _cluster.RegistryStorage.Reset();
        await Registry.SetTenantAsync(Tenant(probe, port: 8443));
        var (changeWrites, changeBytes) = (_cluster.RegistryStorage.Writes, _cluster.RegistryStorage.Bytes);

        var changes = await feed.ReadAsync(before, RegistryChanges.MaxPerRead);
        Assert.Equal(2, changes.Changes.Count); // the feed holds these two changes, nothing of the fleet
        var record = await Registry.GetTenantAsync(probe);
        return new Cost(addWrites, addBytes, changeWrites, changeBytes,
            serializer.SerializeToArray(changes).Length / 2, serializer.SerializeToArray(record).Length);
    }

    private sealed record Cost(long AddWrites, long AddBytes, long ChangeWrites, long ChangeBytes, int FeedBytes, int TenantBytes);
}
