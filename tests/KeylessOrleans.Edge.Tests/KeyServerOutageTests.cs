using System.Diagnostics;
using System.Security.Authentication;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests;

/// <summary>With the tenant's key server down, clients get internal_error within the key-call deadline, never a hang.</summary>
public sealed class KeyServerOutageTests : IAsyncLifetime
{
    private readonly TestCertificateAuthority _ca = new();
    private readonly TestOrigin _origin = new();
    private readonly SiloPlan.Edge _edge = new(HttpsPort: 0);
    private TenantKeyFolder _keys = null!;
    private SiloPlan.OnPrem _acme = null!;
    private KeylessTestCluster _cluster = null!;
    private string _endPoint = null!;

    public async Task InitializeAsync()
    {
        _keys = new TenantKeyFolder(_ca, [EdgeFixture.Host]);
        _acme = new SiloPlan.OnPrem("acme", "primary", _keys.Path);
        _cluster = await KeylessTestCluster.StartAsync(_edge, _acme);
        _endPoint = (await _cluster.ServeTenantAsync(new TenantSettings("acme", [EdgeFixture.Host], new OriginEndpoint("127.0.0.1", _origin.Port)), EdgeFixture.Host)).ToString();
    }

    private Task<ExternalTool.Result> SClientAsync(params string[] options) =>
        ExternalTool.RunAsync("openssl", ["s_client", "-connect", _endPoint, "-servername", EdgeFixture.Host, .. options],
            standardInput: $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n");

    [Fact]
    public async Task Stopped_key_server_gives_internal_error_within_the_deadline_for_every_handshake_kind()
    {
        Assert.Contains(TestOrigin.Body, (await SClientAsync("-tls1_3", "-ign_eof")).Output);

        await _cluster.Cluster.StopSiloAsync(_cluster.Silo(_acme));

        foreach (var options in new[] { new[] { "-tls1_3" }, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], ["-tls1_2", "-cipher", "AES128-GCM-SHA256"] })
        {
            var clock = Stopwatch.StartNew();
            var result = await SClientAsync(options);
            clock.Stop();

            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("alert number 80", result.All); // internal_error
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2 + 1.5), $"{string.Join(' ', options)} took {clock.Elapsed}");
        }
    }

    [Fact]
    public async Task A_registered_replica_that_died_gives_internal_error_after_a_key_call_attempt()
    {
        // A replica the registry still lists but that no silo serves, as after a crash: the test cluster's
        // "kill" cancels the replica's goodbye, so its registration stays.
        await _cluster.Cluster.KillSiloAsync(_cluster.Silo(_acme));
        var routes = _cluster.Services(_cluster.Silo(_edge)).GetRequiredService<Routing.RouteTable>();
        Assert.Equal(["primary"], routes.Resolve(EdgeFixture.Host)?.Keys.Keys.First().Replicas);

        var clock = Stopwatch.StartNew();
        var result = await SClientAsync("-tls1_3");
        clock.Stop();

        Assert.Contains("alert number 80", result.All);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2 + 1.5), $"took {clock.Elapsed}");
        Assert.Contains(_cluster.Calls.Messages, m => m.Method.Contains("IHandshakeGrain"));
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _origin.DisposeAsync();
        _keys.Dispose();
        _ca.Dispose();
    }
}
