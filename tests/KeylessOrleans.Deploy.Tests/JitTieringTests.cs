namespace KeylessOrleans.Deploy.Tests;

/// <summary>
/// Every way this repository deploys `keyless` starts it with the JIT tiering that makes a restarted edge or key
/// server fast within seconds (docs/operations.md, "Start-up"); the benchmark's production shape uses the same.
/// The runtime reads these settings only from the environment, so each deployment must set them itself.
/// </summary>
public sealed class JitTieringTests
{
    private static readonly string[] Settings = ["DOTNET_TC_CallCountingDelayMs=0", "DOTNET_TieredPGO_InstrumentOnlyHotCode=0"];

    [Theory]
    [InlineData("keyless-edge.service")]
    [InlineData("keyless-keyserver@.service")]
    public void Systemd_units_set_it(string unit)
    {
        var environment = SystemdTests.Parse(DeployFiles.Read("systemd", unit)).GetValueOrDefault("Service.Environment") ?? [];
        var assignments = environment.SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.All(Settings, setting => Assert.Contains(setting, assignments));
    }

    [Fact]
    public void The_container_image_that_compose_and_kubernetes_run_sets_it()
    {
        var env = DeployFiles.Read("compose", "Dockerfile").Split('\n')
            .Where(line => line.StartsWith("ENV ", StringComparison.Ordinal))
            .SelectMany(line => line[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.All(Settings, setting => Assert.Contains(setting, env));
    }

    [Fact]
    public void The_local_layout_exports_it_before_starting_anything()
    {
        var script = DeployFiles.Read("local", "run.sh").Split('\n');
        var export = Array.FindIndex(script, line => line.StartsWith("export ", StringComparison.Ordinal) && Settings.All(line.Contains));
        var firstStart = Array.FindIndex(script, line => line.TrimStart().StartsWith("start ", StringComparison.Ordinal));
        Assert.InRange(export, 0, int.MaxValue);
        Assert.True(export < firstStart, $"run.sh exports the JIT settings on line {export + 1}, after its first `start` on line {firstStart + 1}");
    }
}
