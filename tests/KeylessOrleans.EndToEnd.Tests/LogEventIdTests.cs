using KeylessOrleans.Cli.Admin;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.EndToEnd.Tests;

public sealed class LogEventIdTests
{
    [Fact]
    public void Every_keyless_program_log_line_has_its_own_event_id()
    {
        var assembly = typeof(AdminOptions).Assembly;

        Assert.NotEmpty(LogEventIds.Declared(assembly));
        Assert.Empty(LogEventIds.Shared(assembly));
    }
}
