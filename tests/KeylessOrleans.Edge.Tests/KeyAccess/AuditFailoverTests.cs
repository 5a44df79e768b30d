using System.Diagnostics.Metrics;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests.KeyAccess;

/// <summary>
/// Tenant acme with two replicas holding the same keys; the audit log of one ("full") sits on a disk that fills up.
/// That replica withholds every output (AuditFailed: no record, no output) and the edge asks the other: clients see
/// nothing of it.
/// </summary>
public sealed class AuditFailoverTests : IAsyncLifetime
{
    private readonly TestCertificateAuthority _authority = new();
    private readonly TestOrigin _origin = new();
    private readonly TempDirectory _folder = new("keyless-audit-failover");
    private readonly SiloPlan.Edge _edgePlan = new(HttpsPort: 0);
    private TenantKeyFolder _keys = null!;
    private SmallDisk _disk = null!;
    private KeylessTestCluster _cluster = null!;
    private System.Net.IPEndPoint _endPoint = null!;

    public async Task InitializeAsync()
    {
        _keys = new TenantKeyFolder(_authority, [EdgeFixture.Host]);
        _disk = SmallDisk.Mount(Path.Combine(_folder.Path, "disk"));
        _cluster = await KeylessTestCluster.StartAsync(_edgePlan,
            // The healthy replica answers slowly, so the edge prefers the other one whatever it measured before the
            // disk filled: the full replica is asked first, withholds, and the edge moves on.
            new SiloPlan.OnPrem("acme", "primary", _keys.Path) { DrillDelay = TimeSpan.FromMilliseconds(150) },
            new SiloPlan.OnPrem("acme", "full", _keys.Path) { AuditLogPath = Path.Combine(_disk.Path, "audit.log") });
        _endPoint = await _cluster.ServeTenantAsync(new TenantSettings("acme", [EdgeFixture.Host], new OriginEndpoint("127.0.0.1", _origin.Port)), EdgeFixture.Host, keys: 2);
        var routes = _cluster.Services(_cluster.Silo(_edgePlan)).GetRequiredService<RouteTable>();
        if (!await Poll.UntilAsync(() => Task.FromResult(routes.Resolve(EdgeFixture.Host)?.Keys.Keys.All(k => k.Replicas.Count == 2) == true), TimeSpan.FromSeconds(30)))
            throw new TimeoutException("the edge never routed both replicas");
    }

    [Fact]
    public async Task A_replica_whose_audit_log_cannot_be_written_is_failed_over_and_every_handshake_is_served()
    {
        var withheld = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "keyless.keyserver.audit.withheld") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref withheld, value));
        listener.Start();
        _disk.Fill();

        // The log's last page may still hold a few records after the disk filled (more of the shorter v2 ones): go on
        // until the full replica has withheld one, every handshake still served.
        for (var i = 0; i < 40 && (i < 8 || Interlocked.Read(ref withheld) == 0); i++)
        {
            var result = await ExternalTool.RunAsync("openssl",
                ["s_client", "-connect", _endPoint.ToString(), "-servername", EdgeFixture.Host, "-ign_eof", "-tls1_3"],
                standardInput: $"GET / HTTP/1.1\r\nHost: {EdgeFixture.Host}\r\nConnection: close\r\n\r\n");
            Assert.True(result.Output.Contains(TestOrigin.Body), result.All);
        }

        // The full replica was asked and withheld its answers; only the other one's records show operations.
        Assert.True(Interlocked.Read(ref withheld) >= 1, "the full replica was never asked: the test proves nothing");
        var health = _cluster.Services(_cluster.Silo(_edgePlan)).GetRequiredService<ReplicaHealth>();
        Assert.NotNull(health.Latency("acme", "primary"));
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _disk.Dispose();
        await _origin.DisposeAsync();
        _keys.Dispose();
        _authority.Dispose();
        _folder.Dispose();
    }
}
