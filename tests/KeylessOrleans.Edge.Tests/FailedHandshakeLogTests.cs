using System.Net;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tests;

/// <summary>What an operator reads of failed handshakes: the first few of each kind in full, then one count per window.</summary>
public sealed class FailedHandshakeLogTests
{
    [Theory]
    [InlineData("192.0.2.1", "192.0.2.0/24")]
    [InlineData("192.0.2.254", "192.0.2.0/24")]
    [InlineData("::ffff:192.0.2.7", "192.0.2.0/24")]
    [InlineData("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:3::1", "2001:db8:1:3::/64")]
    public void Failures_are_grouped_by_client_network(string client, string network) =>
        Assert.Equal(network, FailedHandshakeLog.NetworkOf(IPAddress.Parse(client)));

    [Fact]
    public void Failures_alike_are_logged_five_in_full_then_counted_in_one_line_at_the_end_of_the_window()
    {
        var clock = new ManualClock();
        var logger = new ListLogger<TlsConnection>();
        using var log = new FailedHandshakeLog(Options.Create(new EdgeOptions()), clock, logger);

        for (var i = 0; i < 1000; i++) log.Failed(IPAddress.Parse($"198.51.100.{i % 250}"), null, "-", "-", "decode_error", "decode_error", null);
        log.Failed(IPAddress.Parse("203.0.113.9"), "shop.example.test", "shop", "x25519", "timeout", null, null);

        var lines = logger.Entries.Select(e => e.Message).ToList();
        Assert.Equal(6, lines.Count);
        Assert.Equal(5, lines.Count(l => l.Contains("failed: decode_error", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("Handshake from 203.0.113.9 for shop.example.test (tenant shop", StringComparison.Ordinal));

        clock.Advance(TimeSpan.FromSeconds(10));
        var summary = Assert.Single(logger.Entries.Skip(6)).Message;
        Assert.Equal("... and 995 more handshakes from 198.51.100.0/24 (tenant -) failed with decode_error in the last 10 s, not logged one by one", summary);
    }

    [Fact]
    public void Beyond_the_kinds_kept_per_window_failures_are_counted_together()
    {
        var clock = new ManualClock();
        var logger = new ListLogger<TlsConnection>();
        using var log = new FailedHandshakeLog(Options.Create(new EdgeOptions { FailedHandshakeLog = { MaxKeys = 10, FirstInFull = 1 } }), clock, logger);

        // One failure from each of 5,000 networks: a scanner spread over addresses.
        for (var i = 0; i < 5000; i++) log.Failed(IPAddress.Parse($"10.{i / 256}.{i % 256}.1"), null, "-", "-", "client_closed", null, null);
        clock.Advance(TimeSpan.FromSeconds(10));

        var lines = logger.Entries.Select(e => e.Message).ToList();
        Assert.Equal(10 + 1 + 1, lines.Count); // ten networks in full, the first of the rest in full, and its summary
        Assert.Equal("... and 4989 more handshakes failed in the last 10 s from clients, tenants and reasons beyond the 10 kinds logged in full (Keyless:Edge:FailedHandshakeLog:MaxKeys)", lines[^1]);
        Assert.True(lines.Count <= log.MaxLinesPerWindow);
    }
}
