using KeylessOrleans.Edge.Tls;

namespace KeylessOrleans.Edge.Tests;

public sealed class ConnectionBudgetTests
{
    [Theory]
    [InlineData(65536, 200, 28_572)] // systemd unit's LimitNOFILE: above the default MaxConnections
    [InlineData(20000, 200, 8650)] // two descriptors a connection, an eighth of the limit kept back
    [InlineData(1024, 200, 284)] // a bare `ulimit -n`: 256 kept back
    [InlineData(300, 250, 1)] // never zero: the listener still works, one connection at a time
    public void The_budget_leaves_room_for_two_descriptors_a_connection_and_a_reserve(long limit, int open, int expected) =>
        Assert.Equal(expected, ConnectionBudget.Compute(limit, open));

    [Fact]
    public void The_soft_open_file_limit_is_read_from_proc_limits()
    {
        string[] limits =
        [
            "Limit                     Soft Limit           Hard Limit           Units",
            "Max processes             unlimited            unlimited            processes",
            "Max open files            1024                 524288               files",
        ];
        Assert.Equal(1024, ConnectionBudget.SoftFileLimit(limits));
        Assert.Null(ConnectionBudget.SoftFileLimit(["Max open files            unlimited            unlimited            files"]));
    }

    [Fact]
    public void This_process_has_a_budget_on_linux() => Assert.NotNull(ConnectionBudget.ForThisProcess());
}
