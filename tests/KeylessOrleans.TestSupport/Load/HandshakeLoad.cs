using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace KeylessOrleans.TestSupport.Load;

/// <summary>One handshake of a load run: when it started (since the run began), how long it took, how it ended.</summary>
public sealed record HandshakeSample(string Target, TimeSpan StartedAt, TimeSpan Duration, bool Ok, string? Error);

/// <summary>
/// Continuous full TLS 1.3 handshakes (.NET SslStream, a fresh connection each) against an edge, from a fixed
/// number of concurrent clients, bounded in time and in count. Every handshake is recorded, so a test can ask
/// what share failed around an event and how long clients waited.
/// </summary>
public sealed class HandshakeLoad : IAsyncDisposable
{
    /// <summary>A client that waits longer than this for one handshake counts it as failed (a hang).</summary>
    public static readonly TimeSpan HandshakeLimit = TimeSpan.FromSeconds(5);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop;
    private readonly List<Task> _workers = [];
    private readonly List<HandshakeSample> _samples = [];
    private readonly int _maxHandshakes;
    private int _started;

    /// <param name="maxDuration">The run stops by itself after this long (a test that forgets cannot loop forever).</param>
    /// <param name="maxHandshakes">... or after this many handshakes.</param>
    public HandshakeLoad(TimeSpan maxDuration, int maxHandshakes = 200_000)
    {
        _stop = new CancellationTokenSource(maxDuration);
        _maxHandshakes = maxHandshakes;
    }

    /// <summary>
    /// Makes each client's socket. The default is a TCP socket in the test's own network namespace; a harness
    /// with network namespaces makes it inside the namespace the edges run in.
    /// </summary>
    public Func<Socket> NewSocket { get; init; } = DefaultSocket;

    /// <summary>Time since the run began, to mark events (a kill, a restart) on the samples' time line.</summary>
    public TimeSpan Now => _clock.Elapsed;

    /// <summary>Starts <paramref name="clients"/> clients, each handshaking with <paramref name="host"/> at <paramref name="edge"/> in a loop.</summary>
    public void Add(string target, IPEndPoint edge, string host, int clients, TimeSpan? pause = null)
    {
        for (var i = 0; i < clients; i++) _workers.Add(Task.Run(() => ClientAsync(target, edge, host, pause ?? TimeSpan.Zero)));
    }

    /// <summary>The samples so far (a copy).</summary>
    public IReadOnlyList<HandshakeSample> Samples
    {
        get { lock (_samples) return _samples.ToList(); }
    }

    /// <summary>
    /// Waits for the first successful handshake to <paramref name="target"/> that started at or after
    /// <paramref name="from"/>: the time it ended, or null if none within <paramref name="limit"/>.
    /// </summary>
    public async Task<TimeSpan?> FirstSuccessAfterAsync(string target, TimeSpan from, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            var first = Samples.For(target).Where(s => s.Ok && s.StartedAt >= from).Select(s => s.StartedAt + s.Duration).DefaultIfEmpty().Min();
            if (first > TimeSpan.Zero) return first;
            await Task.Delay(100);
        }
        return null;
    }

    public async Task<IReadOnlyList<HandshakeSample>> StopAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_workers);
        return Samples;
    }

    private async Task ClientAsync(string target, IPEndPoint edge, string host, TimeSpan pause)
    {
        while (!_stop.IsCancellationRequested && Interlocked.Increment(ref _started) <= _maxHandshakes)
        {
            var started = _clock.Elapsed;
            string? error = null;
            try
            {
                await HandshakeOnceAsync(edge, host, NewSocket);
            }
            catch (Exception e)
            {
                error = Describe(e);
            }
            var sample = new HandshakeSample(target, started, _clock.Elapsed - started, error is null, error);
            lock (_samples) _samples.Add(sample);
            if (pause > TimeSpan.Zero) await Task.Delay(pause).ConfigureAwait(false);
        }
    }

    /// <summary>One handshake: null when it completed, else what went wrong.</summary>
    public static async Task<string?> TryHandshakeAsync(IPEndPoint edge, string host, Func<Socket>? newSocket = null)
    {
        try
        {
            await HandshakeOnceAsync(edge, host, newSocket ?? DefaultSocket);
            return null;
        }
        catch (Exception e)
        {
            return Describe(e);
        }
    }

    /// <summary>Handshakes until one completes: the time that took; fails with the last error after <paramref name="limit"/>.</summary>
    public static async Task<TimeSpan> UntilServedAsync(IPEndPoint edge, string host, TimeSpan limit, Func<Socket>? newSocket = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var error = await TryHandshakeAsync(edge, host, newSocket);
            if (error is null) return clock.Elapsed;
            if (clock.Elapsed > limit) throw new TimeoutException($"{host} at {edge} not served within {limit}: {error}");
            await Task.Delay(100);
        }
    }

    private static Socket DefaultSocket() => new(SocketType.Stream, ProtocolType.Tcp);

    private static async Task HandshakeOnceAsync(IPEndPoint edge, string host, Func<Socket> newSocket)
    {
        using var limit = new CancellationTokenSource(HandshakeLimit);
        using var socket = newSocket();
        socket.NoDelay = true;
        await socket.ConnectAsync(edge, limit.Token);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = host,
            EnabledSslProtocols = SslProtocols.Tls13,
            // The server proves its key in CertificateVerify whatever we decide about its chain; load runs care
            // about that proof, not about the test CA.
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }, limit.Token);
    }

    /// <summary>The whole exception chain in one line: OpenSSL's alert text sits in an inner exception.</summary>
    private static string Describe(Exception e)
    {
        var parts = new List<string>();
        for (var current = e; current is not null; current = current.InnerException) parts.Add($"{current.GetType().Name}: {current.Message}");
        return string.Join(" <- ", parts);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }
}

/// <summary>Figures over a slice of samples.</summary>
public static class HandshakeStats
{
    public static IEnumerable<HandshakeSample> Between(this IEnumerable<HandshakeSample> samples, TimeSpan from, TimeSpan to) =>
        samples.Where(s => s.StartedAt >= from && s.StartedAt < to);

    public static IEnumerable<HandshakeSample> For(this IEnumerable<HandshakeSample> samples, string target) =>
        samples.Where(s => s.Target == target);

    public static double FailedShare(this IEnumerable<HandshakeSample> samples)
    {
        var list = samples.ToList();
        return list.Count == 0 ? 0 : (double)list.Count(s => !s.Ok) / list.Count;
    }

    /// <summary>The <paramref name="percentile"/> (0–100) of handshake durations, in milliseconds.</summary>
    public static double DurationPercentileMs(this IEnumerable<HandshakeSample> samples, double percentile) =>
        samples.Select(s => s.Duration.TotalMilliseconds).Percentile(percentile);

    /// <summary>The <paramref name="percentile"/> (0–100) of <paramref name="values"/> (nearest rank); NaN when empty.</summary>
    public static double Percentile(this IEnumerable<double> values, double percentile)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0) return double.NaN;
        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }

    public static string Summary(this IEnumerable<HandshakeSample> samples)
    {
        var list = samples.ToList();
        return $"{list.Count} handshakes, {list.Count(s => !s.Ok)} failed ({list.FailedShare():P2}), " +
               $"p50 {list.DurationPercentileMs(50):0.0} ms, p99 {list.DurationPercentileMs(99):0.0} ms";
    }
}
