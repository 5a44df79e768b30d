using System.Net;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests.Tickets;

/// <summary>
/// Two edges of one cluster, as behind a load balancer without affinity: a TLS 1.2 session ticket one edge issued
/// resumes on the other, with no key call; and only for the name it was issued for.
/// </summary>
public sealed class SessionTicketFleetTests : IAsyncLifetime
{
    private const string OtherHost = "other.acme.test";
    private readonly SiloPlan.Edge _first = new(HttpsPort: 0);
    private readonly SiloPlan.Edge _second = new(HttpsPort: 0);
    private readonly TestCertificateAuthority _authority = new();
    private readonly TestOrigin _origin = new();
    private readonly TempDirectory _files = new("keyless-tickets");
    private TenantKeyFolder _keys = null!;
    private KeylessTestCluster _cluster = null!;
    private string _caFile = null!;

    public async Task InitializeAsync()
    {
        _keys = new TenantKeyFolder(_authority, [EdgeFixture.Host, OtherHost]);
        _caFile = _files.Write("ca.pem", System.Security.Cryptography.PemEncoding.WriteString("CERTIFICATE", _authority.Certificate.RawData));
        _cluster = await KeylessTestCluster.StartAsync(_first, _second, new SiloPlan.OnPrem("acme", "primary", _keys.Path));
        await _cluster.ServeTenantAsync(new TenantSettings("acme", [EdgeFixture.Host, OtherHost], new OriginEndpoint("127.0.0.1", _origin.Port)), EdgeFixture.Host, keys: 2);
        foreach (var edge in new[] { _first, _second })
        {
            var routes = Service<RouteTable>(edge);
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(routes.Resolve(OtherHost)?.Keys.Keys.Count >= 2), TimeSpan.FromSeconds(30)));
        }
    }

    private T Service<T>(SiloPlan.Edge edge) where T : notnull => _cluster.Services(_cluster.Silo(edge)).GetRequiredService<T>();

    private async Task<ExternalTool.Result> SClientAsync(SiloPlan.Edge edge, string host, params string[] options)
    {
        IPEndPoint endPoint = await Service<EdgeListener>(edge).BoundEndPoint;
        return await ExternalTool.RunAsync("openssl",
            ["s_client", "-connect", endPoint.ToString(), "-servername", host, "-CAfile", _caFile, "-verify_return_error", "-ign_eof", "-tls1_2", .. options],
            standardInput: $"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    }

    /// <summary>A full handshake on the first edge; the session, ticket included, saved as openssl keeps it.</summary>
    private async Task<string> SessionFromFirstEdgeAsync()
    {
        var session = Path.Combine(_files.Path, $"session-{Guid.NewGuid():n}.pem");
        // The edges fetch the fleet's ticket keys at start: until then they issue none (clients fall back to ids).
        Assert.True(await Poll.UntilAsync(async () =>
        {
            var full = await SClientAsync(_first, EdgeFixture.Host, "-sess_out", session);
            Assert.Contains("New, TLSv1.2", full.Output);
            var saved = await ExternalTool.RunAsync("openssl", ["sess_id", "-in", session, "-noout", "-text"], standardInput: "");
            return saved.Output.Contains("TLS session ticket lifetime hint: 3600");
        }, TimeSpan.FromSeconds(20)), "the first edge issued no session ticket");
        return session;
    }

    [Fact]
    public async Task A_ticket_issued_by_one_edge_resumes_on_another_without_a_key_call()
    {
        var session = await SessionFromFirstEdgeAsync();

        var calls = _cluster.Calls.KeyGrainCalls;
        var resumed = await SClientAsync(_second, EdgeFixture.Host, "-sess_in", session);

        Assert.True(resumed.ExitCode == 0, resumed.All);
        Assert.Contains("Reused, TLSv1.2", resumed.Output);
        Assert.Contains("Verify return code: 0 (ok)", resumed.Output);
        Assert.Contains(TestOrigin.Body, resumed.Output);
        Assert.Equal(calls, _cluster.Calls.KeyGrainCalls);
    }

    [Fact]
    public async Task A_ticket_offered_for_another_name_gets_a_full_handshake()
    {
        var session = await SessionFromFirstEdgeAsync();

        var other = await SClientAsync(_second, OtherHost, "-sess_in", session, "-trace");

        // The client did offer the ticket (a non-empty session_ticket extension), and the edge did not take it.
        Assert.Matches(@"extension_type=session_ticket\(35\), length=[1-9]", other.All);
        Assert.Contains("New, TLSv1.2", other.Output);
        Assert.Contains(TestOrigin.Body, other.Output);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _origin.DisposeAsync();
        _keys.Dispose();
        _authority.Dispose();
        _files.Dispose();
    }
}
