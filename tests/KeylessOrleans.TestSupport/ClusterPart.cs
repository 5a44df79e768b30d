namespace KeylessOrleans.TestSupport;

/// <summary>One process of the cluster, restartable with the same command line (same ports).</summary>
public sealed class ClusterPart(string name, string readyLine, int port, Func<KeylessProcess> start) : IAsyncDisposable
{
    /// <summary>The silo port (Redis: its port), the same in every generation.</summary>
    public int Port => port;

    private readonly List<KeylessProcess> _generations = [];

    public string Name => name;

    /// <summary>The running process (the latest generation).</summary>
    public KeylessProcess Process => _generations[^1];

    /// <summary>Every process started so far, oldest first (a restarted part's earlier lives, for their output).</summary>
    public IReadOnlyList<KeylessProcess> Generations => _generations;

    public string? RegisteredLine { get; init; }

    public async Task StartAsync()
    {
        _generations.Add(start());
        await Process.WaitForLineAsync(readyLine, TimeSpan.FromSeconds(90));
    }

    public async Task WaitForRegistrationAsync() =>
        await Process.WaitForLineAsync(RegisteredLine ?? throw new InvalidOperationException($"{name} does not register"), TimeSpan.FromSeconds(60));

    /// <summary>SIGKILL: no goodbye to the cluster.</summary>
    public async Task CrashAsync()
    {
        Process.Crash();
        if (!await Process.WaitForExitAsync(TimeSpan.FromSeconds(10))) throw new TimeoutException($"{name} survived SIGKILL");
    }

    public async Task RestartAsync()
    {
        await Process.DisposeAsync();
        await StartAsync();
    }

    public string Tail(int lines) => string.Join("\n", Process.Output.Split('\n').TakeLast(lines));

    public async ValueTask DisposeAsync()
    {
        foreach (var generation in _generations) await generation.DisposeAsync();
    }
}
