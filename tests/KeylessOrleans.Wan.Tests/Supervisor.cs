using System.Diagnostics;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Wan.Tests;

/// <summary>
/// Plays systemd for one process, as deploy/systemd/keyless-keyserver@.service runs the key server
/// (<c>Restart=on-failure</c>, <c>RestartSec=2s</c>): when the process exits with a failure, it is started again
/// after <see cref="RestartDelay"/>. A clean exit (code 0) is not restarted, as under on-failure.
/// </summary>
public sealed class Supervisor : IAsyncDisposable
{
    public static readonly TimeSpan RestartDelay = TimeSpan.FromSeconds(2);

    private readonly ClusterPart _part;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watching;
    private readonly List<Exit> _exits = [];

    public Supervisor(ClusterPart part)
    {
        _part = part;
        _watching = WatchAsync();
    }

    /// <summary>A supervised process ended: when (Stopwatch timestamp), how, and whether it was started again.</summary>
    public sealed record Exit(long At, int ExitCode, bool Restarted);

    public IReadOnlyList<Exit> Exits
    {
        get { lock (_exits) return [.. _exits]; }
    }

    private async Task WatchAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var process = _part.Process;
            try
            {
                while (!await process.WaitForExitAsync(TimeSpan.FromMilliseconds(200)))
                    _stop.Token.ThrowIfCancellationRequested();
                var at = Stopwatch.GetTimestamp();
                var failed = process.ExitCode != 0;
                lock (_exits) _exits.Add(new Exit(at, process.ExitCode, failed));
                if (!failed) return;
                await Task.Delay(RestartDelay, _stop.Token);
                await _part.StartAsync();
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Stops supervising (the process itself is stopped by its <see cref="ClusterPart"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _watching;
        }
        catch (Exception)
        {
            // A restart that failed to come up; the test that caused it has failed already.
        }
        _stop.Dispose();
    }
}
