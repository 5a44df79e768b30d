using KeylessOrleans.TestSupport;

namespace KeylessOrleans.KeyServer.Tests;

public sealed class LogEventIdTests
{
    [Fact]
    public void Every_key_server_log_line_has_its_own_event_id()
    {
        var assembly = typeof(KeyGrain).Assembly;

        Assert.NotEmpty(LogEventIds.Declared(assembly));
        Assert.Empty(LogEventIds.Shared(assembly));
    }
}
