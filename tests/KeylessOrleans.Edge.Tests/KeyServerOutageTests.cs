using System.Diagnostics;
using System.Security.Authentication;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests;

/// <summary>With the tenant's key server down, clients get internal_error within the key-call deadline, never a hang.</summary>
public sealed class KeyServerOutageTests : IAsyncLifetime
{
    private SingleTenantEdge _site = null!;

    public async Task InitializeAsync() => _site = await SingleTenantEdge.StartAsync(new SiloPlan.Edge(HttpsPort: 0));

    /// <summary>
    /// The 2 s key-call deadline plus room for starting openssl on a loaded CI machine: still far below the 10 s
    /// handshake timeout, so a handshake left waiting for the dead key server fails this.
    /// </summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2 + 3);

    private Task<ExternalTool.Result> SClientAsync(params string[] options) =>
        ExternalTool.RunAsync("openssl", ["s_client", "-connect", _site.EndPoint.ToString(), "-servername", EdgeFixture.Host, .. options],
            standardInput: $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n");

    [Fact]
    public async Task Stopped_key_server_gives_internal_error_within_the_deadline_for_every_handshake_kind()
    {
        Assert.Contains(TestOrigin.Body, (await SClientAsync("-tls1_3", "-ign_eof")).Output);

        await _site.Acme.DisposeAsync();

        foreach (var options in new[] { new[] { "-tls1_3" }, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], ["-tls1_2", "-cipher", "AES128-GCM-SHA256"] })
        {
            var clock = Stopwatch.StartNew();
            var result = await SClientAsync(options);
            clock.Stop();

            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("alert number 80", result.All); // internal_error
            Assert.True(clock.Elapsed < Deadline, $"{string.Join(' ', options)} took {clock.Elapsed}");
        }
    }

    [Fact]
    public async Task A_replica_that_went_away_gives_internal_error_after_a_key_call_attempt()
    {
        // The operator still lists the replica, and the edge keeps its last admitted chains: it tries, and fails in time.
        await _site.Acme.DisposeAsync();
        var routes = _site.Cluster.Services(_site.Cluster.Silo(_site.Edge)).GetRequiredService<Routing.RouteTable>();
        Assert.Equal(["primary"], routes.Resolve(EdgeFixture.Host)?.Keys.Keys.First().Replicas);

        var clock = Stopwatch.StartNew();
        var result = await SClientAsync("-tls1_3");
        clock.Stop();

        Assert.Contains("alert number 80", result.All);
        Assert.True(clock.Elapsed < Deadline, $"took {clock.Elapsed}");
        Assert.Contains(_site.Cluster.Calls.Messages, m => m.Method.Contains("IHandshakeGrain"));
    }

    public async Task DisposeAsync() => await _site.DisposeAsync();
}
