using System.Diagnostics;
using KeylessOrleans.TestSupport;
using KeylessOrleans.Wan.Tests.Network;

namespace KeylessOrleans.Wan.Tests;

/// <summary>A run that crashed leaves namespaces and processes behind; the next run removes them, and only them.</summary>
public sealed class LeftoverTests
{
    [Fact]
    public async Task Namespaces_of_a_dead_run_go_with_their_processes_and_a_live_run_is_left_alone()
    {
        using var gone = Process.Start("true")!;
        await gone.WaitForExitAsync(); // its PID names the crashed run
        var leftover = $"{WanTopology.Prefix}{gone.Id}-onprem";
        var live = $"{WanTopology.Prefix}{Environment.ProcessId}-probe";
        await NetworkNamespace.Ip("netns", "add", leftover);
        await NetworkNamespace.Ip("netns", "add", live);
        try
        {
            await using var orphan = KeylessProcess.StartProgram("ip", ["netns", "exec", leftover, "sleep", "60"], null);
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(NetworkNamespace.Pids(leftover).Contains(orphan.Id)), TimeSpan.FromSeconds(10)));

            WanTopology.RemoveLeftovers();

            Assert.DoesNotContain(leftover, NetworkNamespace.Existing());
            Assert.True(await orphan.WaitForExitAsync(TimeSpan.FromSeconds(10)), "the orphan in the leftover namespace is still running");
            Assert.Contains(live, NetworkNamespace.Existing());
        }
        finally
        {
            NetworkNamespace.Delete(leftover);
            NetworkNamespace.Delete(live);
        }
    }
}
