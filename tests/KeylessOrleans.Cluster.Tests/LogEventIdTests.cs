using KeylessOrleans.Cluster.Storage;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Cluster.Tests;

public sealed class LogEventIdTests
{
    [Fact]
    public void Every_cluster_log_line_has_its_own_event_id()
    {
        var assembly = typeof(FileGrainStorage).Assembly;

        Assert.NotEmpty(LogEventIds.Declared(assembly));
        Assert.Empty(LogEventIds.Shared(assembly));
    }
}
