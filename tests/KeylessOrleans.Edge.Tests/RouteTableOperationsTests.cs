using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Edge.Tests;

/// <summary>What the edge's gauges and readiness read from the route table.</summary>
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
        var routes = new RouteTable();
        Assert.Empty(routes.CertificateExpiries()); // nothing before the first snapshot
        routes.Apply(new RegistrySnapshot(1,
            [
                new ReplicaRegistration("shop", "a", [Chain("k1", Later, "shop.example", "www.shop.example")]),
                new ReplicaRegistration("shop", "b", [Chain("k1", Soon, "shop.example", "www.shop.example")]),
            ],
            [Tenant("shop", "shop.example", "www.shop.example")]));

        var expiries = routes.CertificateExpiries().OrderBy(e => e.HostName).ToList();
        Assert.Equal([new CertificateExpiry("shop", "shop.example", "k1", Soon), new CertificateExpiry("shop", "www.shop.example", "k1", Soon)], expiries);
    }

    [Fact]
    public void Tenants_set_up_without_a_registered_key_server_are_named()
    {
        var routes = new RouteTable();
        routes.Apply(new RegistrySnapshot(2,
            [new ReplicaRegistration("shop", "a", [Chain("k1", Later, "shop.example")])],
            [Tenant("shop", "shop.example"), Tenant("blog", "blog.example"), Tenant("acme", "acme.example")]));
        Assert.Equal(["acme", "blog"], routes.TenantsWithoutKeyServer());
    }

    [Fact]
    public void Random_client_names_cannot_grow_the_table_beyond_its_cap_and_known_names_still_route()
    {
        var routes = new RouteTable();
        routes.Apply(new RegistrySnapshot(3,
            [new ReplicaRegistration("shop", "a", [Chain("k1", Later, "*.shop.example")])],
            [Tenant("shop", "*.shop.example")]));

        // Misses, and names a wildcard covers: every one a client may choose at will.
        for (var i = 0; i < RouteTable.MaxCachedNames + 5_000; i++)
            routes.Resolve(i % 2 == 0 ? $"random-{i}.example" : $"random-{i}.shop.example");

        Assert.InRange(routes.CachedNames, 1, RouteTable.MaxCachedNames);
        Assert.Equal("shop", routes.Resolve("beyond-the-cap.shop.example")?.TenantName);
        Assert.Null(routes.Resolve("beyond-the-cap.example"));
    }
}
