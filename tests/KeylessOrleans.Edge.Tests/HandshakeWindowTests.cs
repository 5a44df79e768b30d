using System.Diagnostics.Metrics;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Status;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests;

/// <summary>The last minute of handshakes an edge shows in `keyless status`.</summary>
public sealed class HandshakeWindowTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly ServiceProvider _otherServices = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly ManualClock _clock = new();
    private readonly EdgeMetrics _metrics;
    private readonly EdgeMetrics _otherEdge;
    private readonly HandshakeWindow _window;

    public HandshakeWindowTests()
    {
        // Two edges in one process (as in the in-memory test cluster) each get their own meter.
        _metrics = new EdgeMetrics(_services.GetRequiredService<IMeterFactory>());
        _otherEdge = new EdgeMetrics(_otherServices.GetRequiredService<IMeterFactory>());
        _window = new HandshakeWindow(_metrics, _clock);
    }

    [Fact]
    public void Handshakes_are_counted_by_tenant_and_outcome_from_the_edges_own_metrics()
    {
        _metrics.RecordHandshake("acme", "1.3", false, "ok", TimeSpan.FromMilliseconds(3));
        _metrics.RecordHandshake("acme", "1.3", false, "ok", TimeSpan.FromMilliseconds(3));
        _metrics.RecordHandshake("acme", "1.2", true, "key_Unavailable", TimeSpan.FromMilliseconds(3));
        _metrics.RecordHandshake(null, null, false, "unrecognized_name", TimeSpan.FromMilliseconds(1));
        _otherEdge.RecordHandshake("acme", "1.3", false, "ok", TimeSpan.FromMilliseconds(3));

        Assert.Equal(
            [new HandshakeCount("-", "unrecognized_name", 1), new HandshakeCount("acme", "key_Unavailable", 1), new HandshakeCount("acme", "ok", 2)],
            _window.Snapshot());
    }

    [Fact]
    public void Handshakes_with_a_post_quantum_hybrid_group_are_counted_apart()
    {
        _metrics.RecordHandshake("acme", "1.3", false, "ok", TimeSpan.Zero, group: "X25519MLKEM768");
        _metrics.RecordHandshake("acme", "1.3", false, "ok", TimeSpan.Zero, group: "SecP256r1MLKEM768");
        _metrics.RecordHandshake("acme", "1.3", false, "ok", TimeSpan.Zero, group: "x25519");
        _metrics.RecordHandshake("acme", "1.2", true, "ok", TimeSpan.Zero);

        Assert.Equal([new HandshakeCount("acme", "ok", 4, 2)], _window.Snapshot());
    }

    [Fact]
    public void Handshakes_older_than_a_minute_drop_out()
    {
        _metrics.RecordHandshake("acme", "1.3", false, "ok", TimeSpan.Zero);
        _clock.Advance(TimeSpan.FromSeconds(30));
        _metrics.RecordHandshake("acme", "1.3", false, "ok", TimeSpan.Zero);
        Assert.Equal(2, Assert.Single(_window.Snapshot()).Count);

        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(1, Assert.Single(_window.Snapshot()).Count);

        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Empty(_window.Snapshot());
    }

    [Fact]
    public void Open_connections_follow_the_connection_gauge()
    {
        _metrics.ConnectionOpened();
        _metrics.ConnectionOpened();
        _metrics.ConnectionClosed();
        Assert.Equal(1, _window.OpenConnections);
    }

    public void Dispose()
    {
        _window.Dispose();
        _metrics.Dispose();
        _otherEdge.Dispose();
        _services.Dispose();
        _otherServices.Dispose();
    }
}
