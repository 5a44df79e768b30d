using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>An edge with a default host name serves clients that send no SNI with that host's certificate.</summary>
public sealed class DefaultHostTests : IAsyncLifetime
{
    private readonly TestCertificateAuthority _ca = new();
    private readonly TestOrigin _origin = new();
    private readonly SiloPlan.Edge _edge = new(HttpsPort: 0) { DefaultHostName = EdgeFixture.Host };
    private TenantKeyFolder _keys = null!;
    private KeylessTestCluster _cluster = null!;
    private System.Net.IPEndPoint _endPoint = null!;

    public async Task InitializeAsync()
    {
        _keys = new TenantKeyFolder(_ca, [EdgeFixture.Host]);
        _cluster = await KeylessTestCluster.StartAsync(_edge, new SiloPlan.OnPrem("acme", "primary", _keys.Path));
        _endPoint = await _cluster.ServeTenantAsync(new TenantSettings("acme", [EdgeFixture.Host], new OriginEndpoint("127.0.0.1", _origin.Port)), EdgeFixture.Host);
    }

    [Fact]
    public async Task A_client_without_sni_gets_the_default_host()
    {
        var result = await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", _endPoint.ToString(), "-noservername", "-tls1_3", "-ign_eof"],
            standardInput: $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n");
        Assert.Contains($"subject=CN = {EdgeFixture.Host}", result.Output);
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _origin.DisposeAsync();
        _keys.Dispose();
        _ca.Dispose();
    }
}
