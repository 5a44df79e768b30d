using System.Collections.Concurrent;
using System.Diagnostics;
using KeylessOrleans.Cluster.Registry;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// How the edge's route table caches the registry: what it asks, what it keeps, what a change or a flood of random
/// names does to it, and what its gauges and readiness read from it.
/// </summary>
public sealed class RouteTableOperationsTests
{
    private static readonly DateTimeOffset Soon = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Later = Soon.AddDays(90);

    private static CertificateChainRegistration Chain(string keyId, DateTimeOffset notAfter, params string[] names) =>
        new(keyId, KeyAlgorithm.EcdsaP256, [], names, notAfter);

    private static TenantSettings Tenant(string name, params string[] hosts) => new(name, hosts, new OriginEndpoint("127.0.0.1", 8080));

    [Fact]
    public void Certificate_expiry_is_per_tenant_host_and_key_with_the_earliest_date_among_replicas()
    {
        var registry = new StoredRecords();
        registry.Set(Tenant("shop", "shop.example", "www.shop.example"),
            new ReplicaRegistration("shop", "a", [Chain("k1", Later, "shop.example", "www.shop.example")]),
            new ReplicaRegistration("shop", "b", [Chain("k1", Soon, "shop.example", "www.shop.example")]));
        var routes = new RouteTable(registry, TimeProvider.System);
        Assert.Empty(routes.CertificateExpiries()); // nothing served yet

        Assert.Equal("shop", routes.Resolve("www.shop.example")?.TenantName);

        var expiries = routes.CertificateExpiries().OrderBy(e => e.HostName).ToList();
        Assert.Equal([new CertificateExpiry("shop", "shop.example", "k1", Soon), new CertificateExpiry("shop", "www.shop.example", "k1", Soon)], expiries);
    }

    [Fact]
    public void Served_tenants_without_a_registered_key_server_are_named_and_still_route_to_an_alert()
    {
        var registry = new StoredRecords();
        registry.Set(Tenant("shop", "shop.example"), new ReplicaRegistration("shop", "a", [Chain("k1", Later, "shop.example")]));
        registry.Set(Tenant("blog", "blog.example"));
        registry.Set(Tenant("acme", "acme.example"));
        var routes = new RouteTable(registry, TimeProvider.System);

        foreach (var host in new[] { "shop.example", "blog.example", "acme.example" }) Assert.NotNull(routes.Resolve(host));

        Assert.Equal(["acme", "blog"], routes.TenantsWithoutKeyServer());
        Assert.Empty(routes.Resolve("blog.example")!.Keys.Keys); // known name, no key: internal_error, not unrecognized_name
    }

    [Fact]
    public void A_changed_tenant_stays_in_the_gauges_until_read_again_and_a_refresh_shows_its_renewed_certificate()
    {
        var registry = new StoredRecords();
        registry.Set(Tenant("shop", "shop.example"), new ReplicaRegistration("shop", "a", [Chain("k1", Soon, "shop.example")]));
        var routes = new RouteTable(registry, TimeProvider.System);
        Assert.NotNull(routes.Resolve("shop.example"));

        // The key server registers a renewed certificate; the feed says the tenant changed.
        registry.Set(Tenant("shop", "shop.example"), new ReplicaRegistration("shop", "a", [Chain("k1", Later, "shop.example")]));
        routes.Changed(new RegistryChange(1, "shop", []));
        Assert.Equal([new CertificateExpiry("shop", "shop.example", "k1", Soon)], routes.CertificateExpiries()); // not blank meanwhile
        Assert.Empty(routes.TenantsWithoutKeyServer());

        Assert.True(routes.Refresh("shop"));

        Assert.Equal([new CertificateExpiry("shop", "shop.example", "k1", Later)], routes.CertificateExpiries());
        var reads = registry.Reads;
        Assert.Equal("shop", routes.Resolve("shop.example")?.TenantName);
        Assert.Equal(reads, registry.Reads); // the next client does not wait for the read
    }

    [Fact]
    public void Changes_to_other_tenants_do_not_make_a_tenant_read_again()
    {
        var registry = new StoredRecords();
        registry.Set(Tenant("shop", "shop.example"));
        var routes = new RouteTable(registry, TimeProvider.System);
        routes.Resolve("shop.example");
        var reads = registry.Reads;

        // A busy fleet: every other tenant changes all the time.
        for (var i = 0; i < 1_000; i++) routes.Changed(new RegistryChange(i, $"other-{i}", [$"www.other-{i}.example"]));
        for (var i = 0; i < 100; i++) routes.Resolve("shop.example");

        Assert.Equal(reads, registry.Reads);
    }

    [Fact]
    public void Exact_names_win_over_wildcards_and_a_wildcard_covers_one_label()
    {
        var registry = new StoredRecords();
        registry.Set(Tenant("shop", "*.shop.example"), new ReplicaRegistration("shop", "a", [Chain("k1", Later, "*.shop.example")]));
        registry.Set(Tenant("vip", "vip.shop.example"), new ReplicaRegistration("vip", "a", [Chain("k2", Later, "vip.shop.example")]));
        var routes = new RouteTable(registry, TimeProvider.System);

        Assert.Equal("vip", routes.Resolve("VIP.shop.example.")?.TenantName);
        Assert.Equal("shop", routes.Resolve("www.shop.example")?.TenantName);
        Assert.Equal("k1", routes.Resolve("www.shop.example")?.Keys.Keys.Single().KeyId);
        Assert.Null(routes.Resolve("a.b.shop.example"));
        Assert.Null(routes.Resolve("shop.example"));
    }

    [Fact]
    public void A_name_moved_between_tenants_routes_to_its_new_tenant_once_the_feed_says_so()
    {
        var registry = new StoredRecords();
        registry.Set(Tenant("old", "moving.example", "stays.example"));
        var routes = new RouteTable(registry, TimeProvider.System);
        Assert.Equal("old", routes.Resolve("moving.example")?.TenantName);

        registry.Set(Tenant("old", "stays.example"));
        registry.Set(Tenant("new", "moving.example"));
        Assert.Equal("old", routes.Resolve("moving.example")?.TenantName); // cached: nothing said it changed

        routes.Changed(new RegistryChange(1, "old", ["moving.example"]));
        routes.Changed(new RegistryChange(2, "new", ["moving.example"]));
        Assert.Equal("new", routes.Resolve("moving.example")?.TenantName);
        Assert.Equal("old", routes.Resolve("stays.example")?.TenantName);

        registry.Remove("new");
        routes.Changed(new RegistryChange(3, "new", ["moving.example"], Removed: true));
        Assert.Null(routes.Resolve("moving.example"));
        Assert.DoesNotContain(routes.Tenants, t => t.Tenant == "new");
    }

    [Fact]
    public void A_name_added_under_a_new_wildcard_is_served_although_it_was_a_cached_miss()
    {
        var registry = new StoredRecords();
        var routes = new RouteTable(registry, TimeProvider.System);
        Assert.Null(routes.Resolve("www.late.example"));

        registry.Set(Tenant("late", "*.late.example"));
        routes.Changed(new RegistryChange(1, "late", ["*.late.example"]));

        Assert.Equal("late", routes.Resolve("www.late.example")?.TenantName);
    }

    [Fact]
    public void Cached_answers_are_not_asked_again_and_starting_over_forgets_them()
    {
        var registry = new StoredRecords();
        registry.Set(Tenant("shop", "shop.example"));
        var routes = new RouteTable(registry, TimeProvider.System);

        for (var i = 0; i < 100; i++)
        {
            routes.Resolve("shop.example");
            routes.Resolve("nobody.example");
        }
        var reads = registry.Reads;
        Assert.InRange(reads, 1, 5); // a name, its tenant; a miss, its wildcard

        routes.StartOver();
        Assert.Equal(0, routes.CachedNames);
        routes.Resolve("shop.example");
        Assert.True(registry.Reads > reads);
    }

    [Fact]
    public void Tenants_not_served_for_the_idle_time_are_forgotten()
    {
        var clock = new ManualClock();
        var registry = new StoredRecords();
        registry.Set(Tenant("shop", "shop.example"));
        registry.Set(Tenant("blog", "blog.example"));
        var routes = new RouteTable(registry, clock, new RouteTableLimits { IdleTenant = TimeSpan.FromMinutes(10) });
        var forgotten = new List<string>();
        routes.TenantDropped += forgotten.Add;
        routes.Resolve("shop.example");
        routes.Resolve("blog.example");

        clock.Advance(TimeSpan.FromMinutes(6));
        routes.Resolve("shop.example");
        clock.Advance(TimeSpan.FromMinutes(6));
        routes.Sweep();

        Assert.Equal(["shop"], routes.Tenants.Select(t => t.Tenant));
        Assert.Equal(["blog"], forgotten);
    }

    [Fact]
    public void Random_client_names_cannot_grow_the_table_or_flood_the_registry_and_known_names_still_route()
    {
        var registry = new StoredRecords();
        registry.Set(Tenant("shop", "www.shop.example", "*.shop.example"),
            new ReplicaRegistration("shop", "a", [Chain("k1", Later, "www.shop.example", "*.shop.example")]));
        var limits = new RouteTableLimits { MaxCachedMisses = 1_000, LookupsPerSecond = 500 };
        var routes = new RouteTable(registry, TimeProvider.System, limits);
        Assert.Equal("shop", routes.Resolve("www.shop.example")?.TenantName);
        var clock = Stopwatch.StartNew();

        // Misses, and names a wildcard covers: every one a client may choose at will.
        const int Names = 20_000;
        var refused = 0;
        for (var i = 0; i < Names; i++)
        {
            try
            {
                routes.Resolve(i % 2 == 0 ? $"random-{i}.example" : $"random-{i}.shop.example");
            }
            catch (RegistryUnavailableException)
            {
                refused++;
            }
        }
        var elapsed = clock.Elapsed;

        Assert.InRange(routes.CachedNames, 1, limits.MaxCachedMisses + 10); // + the wildcard and the known names
        // Each read needs a token: the bucket's limit at start plus what it refilled while the loop ran.
        Assert.InRange(registry.Reads, 1, 4 + limits.LookupsPerSecond * (1 + (int)Math.Ceiling(elapsed.TotalSeconds)));
        Assert.True(refused > 0);
        Assert.Equal(refused, routes.ShedLookups);
        // An exact name already served needs no read: a flood of random names does not take it down.
        Assert.Equal("shop", routes.Resolve("www.shop.example")?.TenantName);
    }

    [Fact]
    public void A_registry_that_cannot_be_read_is_an_error_not_an_unknown_name()
    {
        var routes = new RouteTable(new UnreadableRegistry(), TimeProvider.System, new RouteTableLimits { LookupTimeout = TimeSpan.FromMilliseconds(200) });

        var error = Assert.Throws<RegistryUnavailableException>(() => routes.Resolve("shop.example"));

        Assert.Contains("could not be read", error.Message);
        Assert.Equal(1, routes.FailedLookups);
        Assert.Equal(0, routes.CachedNames); // nothing cached from a failed read: the next handshake asks again
    }

    private sealed class UnreadableRegistry : IRegistrySource
    {
        public Task<TenantRecord?> TenantAsync(string tenant) => Task.FromException<TenantRecord?>(new IOException("storage down"));

        public async Task<string?> HostNameHolderAsync(string name)
        {
            await Task.Delay(Timeout.Infinite); // hangs, as a partitioned Redis would
            return null;
        }
    }

    /// <summary>The registry's stored records, as <see cref="RegistryReader"/> reads them, counting reads.</summary>
    private sealed class StoredRecords : IRegistrySource
    {
        private readonly ConcurrentDictionary<string, TenantRecord> _tenants = new();
        private readonly ConcurrentDictionary<string, string> _names = new();
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public void Set(TenantSettings settings, params ReplicaRegistration[] replicas)
        {
            foreach (var (name, _) in _names.Where(n => n.Value == settings.Tenant)) _names.TryRemove(name, out _);
            foreach (var name in settings.HostNames) _names[HostNames.Normalize(name)] = settings.Tenant;
            _tenants[settings.Tenant] = new TenantRecord(settings, replicas, (_tenants.GetValueOrDefault(settings.Tenant)?.Version ?? 0) + 1);
        }

        public void Remove(string tenant)
        {
            _tenants.TryRemove(tenant, out _);
            foreach (var (name, _) in _names.Where(n => n.Value == tenant)) _names.TryRemove(name, out _);
        }

        public Task<TenantRecord?> TenantAsync(string tenant)
        {
            Interlocked.Increment(ref _reads);
            return Task.FromResult(_tenants.GetValueOrDefault(tenant));
        }

        public Task<string?> HostNameHolderAsync(string name)
        {
            Interlocked.Increment(ref _reads);
            return Task.FromResult(_names.GetValueOrDefault(name));
        }
    }
}
