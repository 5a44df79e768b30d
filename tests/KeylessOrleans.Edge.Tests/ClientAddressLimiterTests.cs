using System.Net;
using KeylessOrleans.Edge.Tls;

namespace KeylessOrleans.Edge.Tests;

public sealed class ClientAddressLimiterTests
{
    [Fact]
    public void An_address_at_its_limit_is_refused_until_one_of_its_connections_closes()
    {
        var limiter = new ClientAddressLimiter(2);
        var client = IPAddress.Parse("192.0.2.1");
        Assert.True(limiter.TryAcquire(client));
        Assert.True(limiter.TryAcquire(client));
        Assert.False(limiter.TryAcquire(client));
        Assert.True(limiter.TryAcquire(IPAddress.Parse("192.0.2.2")));
        limiter.Release(client);
        Assert.True(limiter.TryAcquire(client));
    }

    [Fact]
    public void An_ipv4_client_on_a_dual_stack_listener_counts_as_its_ipv4_address()
    {
        var limiter = new ClientAddressLimiter(1);
        Assert.True(limiter.TryAcquire(IPAddress.Parse("192.0.2.1")));
        Assert.False(limiter.TryAcquire(IPAddress.Parse("::ffff:192.0.2.1")));
    }

    [Fact]
    public async Task Addresses_are_forgotten_when_their_last_connection_closes_even_under_contention()
    {
        var limiter = new ClientAddressLimiter(3);
        var addresses = Enumerable.Range(1, 4).Select(i => IPAddress.Parse($"192.0.2.{i}")).ToArray();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (var i = 0; i < 50_000; i++)
            {
                var address = addresses[(worker + i) % addresses.Length];
                if (!limiter.TryAcquire(address)) continue;
                if (!limiter.TryAcquire(address)) { limiter.Release(address); continue; }
                limiter.Release(address);
                limiter.Release(address);
            }
        })));
        Assert.Equal(0, limiter.Addresses);

        // No count was lost or doubled: every address has exactly its full limit again.
        foreach (var address in addresses)
        {
            for (var i = 0; i < 3; i++) Assert.True(limiter.TryAcquire(address));
            Assert.False(limiter.TryAcquire(address));
        }
    }
}
