using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Stapling;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tests.Breadth;

/// <summary>
/// A tenant's certificate names the OCSP responder the edge will call. It must not be able to aim the edge at the
/// operator's own network: only public addresses, plus private networks the operator lists.
/// </summary>
public sealed class OcspResponderAddressTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = new();
    private readonly TcpListener _internalService = new(IPAddress.Loopback, 0);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().AddSingleton<EdgeMetrics>().BuildServiceProvider();

    public OcspResponderAddressTests() => _internalService.Start();

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("172.20.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.169.254")] // cloud metadata
    [InlineData("100.64.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("fe80::1")]
    [InlineData("fd00::1")]
    [InlineData("64:ff9b::a00:1")] // NAT64 of 10.0.0.1
    [InlineData("64:ff9b::7f00:1")] // NAT64 of 127.0.0.1
    [InlineData("2002:a9fe:a9fe::1")] // 6to4 of 169.254.169.254
    public void Private_and_reserved_addresses_are_refused_by_default(string address) =>
        Assert.False(new ResponderAddressPolicy([]).Allows(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("151.101.1.1")]
    [InlineData("2606:4700::1111")]
    public void Public_addresses_are_allowed(string address) =>
        Assert.True(new ResponderAddressPolicy([]).Allows(IPAddress.Parse(address)));

    [Fact]
    public void A_listed_private_network_is_allowed_and_only_that_one()
    {
        var policy = new ResponderAddressPolicy([IPNetwork.Parse("10.20.0.0/16")]);
        Assert.True(policy.Allows(IPAddress.Parse("10.20.5.5")));
        Assert.False(policy.Allows(IPAddress.Parse("10.21.5.5")));
        Assert.False(policy.Allows(IPAddress.Parse("127.0.0.1")));
    }

    [Fact]
    public async Task A_certificate_naming_a_loopback_responder_gets_no_request_from_the_edge_and_a_warning()
    {
        var logger = new ListLogger<OcspStapler>();
        using var stapler = Stapler(new EdgeOptions(), logger);

        Assert.Null(stapler.Current(ChainNaming(new Uri($"http://localhost:{Port}/"))));

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(logger.Entries.Any(e => e.Level == LogLevel.Warning)), TimeSpan.FromSeconds(10)));
        Assert.Contains(logger.Entries, e => e.Message.Contains("not a public address") && e.Message.Contains("127.0.0.1"));
        await Task.Delay(200); // a connection attempt, had there been one, would be queued by now
        Assert.False(_internalService.Pending(), "the edge connected to a loopback service named in a tenant's certificate");
    }

    [Fact]
    public async Task The_operator_can_allow_a_private_network_for_an_internal_responder()
    {
        using var stapler = Stapler(new EdgeOptions { Stapling = { ResponderPrivateNetworks = ["127.0.0.0/8"] } }, new ListLogger<OcspStapler>());

        stapler.Current(ChainNaming(new Uri($"http://127.0.0.1:{Port}/")));

        using var accepted = await _internalService.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(accepted.Connected);
    }

    [Fact]
    public async Task A_responder_streaming_without_end_costs_the_edge_64_KiB_and_a_warning_not_its_memory()
    {
        var logger = new ListLogger<OcspStapler>();
        using var stapler = Stapler(new EdgeOptions { Stapling = { ResponderPrivateNetworks = ["127.0.0.0/8"] } }, logger);

        stapler.Current(ChainNaming(new Uri($"http://127.0.0.1:{Port}/")));

        // An HTTP 200 whose chunked body goes on for 256 MiB: the edge must hang up long before the end.
        using var client = await _internalService.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var stream = client.GetStream();
        await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray());
        var chunk = System.Text.Encoding.ASCII.GetBytes($"{64 * 1024:x}\r\n").Concat(new byte[64 * 1024]).Concat("\r\n"u8.ToArray()).ToArray();
        long sent = 0;
        var hungUp = false;
        try
        {
            while (sent < 256L * 1024 * 1024)
            {
                await stream.WriteAsync(chunk).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                sent += chunk.Length;
            }
        }
        catch (IOException)
        {
            hungUp = true;
        }

        Assert.True(hungUp, $"the edge read all {sent} bytes of an OCSP response");
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(logger.Entries.Any(e => e.Message.Contains("larger than 64 KiB"))), TimeSpan.FromSeconds(10)));
    }

    private int Port => ((IPEndPoint)_internalService.LocalEndpoint).Port;

    private OcspStapler Stapler(EdgeOptions options, ListLogger<OcspStapler> logger) =>
        new(Options.Create(options), TimeProvider.System, _services.GetRequiredService<EdgeMetrics>(), logger);

    private byte[][] ChainNaming(Uri responder)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var leaf = _ca.Issue(key.ExportSubjectPublicKeyInfo(), new LeafExtras(OcspResponder: responder), "tenant.test");
        return [leaf.RawData, _ca.Certificate.RawData];
    }

    public void Dispose()
    {
        _internalService.Stop();
        _services.Dispose();
        _ca.Dispose();
    }
}
