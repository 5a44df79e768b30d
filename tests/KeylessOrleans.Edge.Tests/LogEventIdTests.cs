using KeylessOrleans.Edge.Tls;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Edge.Tests;

public sealed class LogEventIdTests
{
    [Fact]
    public void Every_edge_log_line_has_its_own_event_id()
    {
        var assembly = typeof(EdgeListener).Assembly;

        Assert.NotEmpty(LogEventIds.Declared(assembly));
        Assert.Empty(LogEventIds.Shared(assembly));
    }
}
