using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

/// <summary>An edge with a default host name serves clients that send no SNI with that host's certificate.</summary>
public sealed class DefaultHostTests : IAsyncLifetime
{
    private SingleTenantEdge _site = null!;

    public async Task InitializeAsync() =>
        _site = await SingleTenantEdge.StartAsync(new SiloPlan.Edge(HttpsPort: 0) { DefaultHostName = EdgeFixture.Host });

    [Fact]
    public async Task A_client_without_sni_gets_the_default_host()
    {
        var result = await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", _site.EndPoint.ToString(), "-noservername", "-tls1_3", "-ign_eof"],
            standardInput: $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n");
        Assert.Contains($"subject=CN = {EdgeFixture.Host}", result.Output);
        Assert.Contains(TestOrigin.Body, result.Output);
    }

    public async Task DisposeAsync() => await _site.DisposeAsync();
}
