using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Runtime;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Edge.Tls.Tickets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.WarmUp;

/// <summary>What the warm-up did, for the log and /readyz.</summary>
internal sealed record WarmUpReport(long Handshakes, long Resumed, long Failed, int Rounds, TimeSpan Took, long MethodsCompiled, bool Settled)
{
    /// <summary>The second part's key calls (<see cref="KeyCallWarmUp"/>).</summary>
    public KeyCallWarmUpReport KeyCalls { get; init; } = new(0, 0);
}

/// <summary>
/// Before the edge reports ready (<see cref="EdgeReadinessCheck"/>), it handshakes with itself: every kind of
/// handshake in <see cref="WarmUpScenario.All"/>, from a few clients at once, through the edge's own connection code
/// (<see cref="TlsConnection"/>, its handshake threads, BouncyCastle, the keyless credentials, forwarding) on a
/// loopback listener of its own, against a tenant made in memory for it (<see cref="WarmUpTenant"/>). Without it the
/// first clients after "ready" wait on the just-in-time compiler: tiered compilation needs tens of calls per method,
/// and on a busy edge minutes, before the handshake path runs at full speed.
/// It touches nothing the edge serves: its own route table, session cache, ticket keys and key operations; its
/// handshakes are counted on a meter of their own, which is not exported, and its failures are not in the
/// failed-handshake log. It runs in rounds of half a second until a round compiles fewer than
/// <see cref="EdgeWarmUpOptions.SettledMethods"/> methods (after <see cref="EdgeWarmUpOptions.MinRounds"/>), or
/// until <see cref="EdgeWarmUpOptions.MaxDuration"/>. A warm-up that fails still ends: the edge becomes ready, colder.
/// </summary>
internal sealed partial class EdgeWarmUp(
    IOptions<EdgeOptions> options,
    HandshakeWorkerPool pool,
    TlsCrypto crypto,
    KeyCallWarmUp keyCalls,
    IMeterFactory meters,
    TimeProvider time,
    ILogger<EdgeWarmUp> logger) : BackgroundService
{
    /// <summary>The meter the warm-up's handshakes are counted on; the admin endpoint does not export it.</summary>
    public const string MeterName = "KeylessOrleans.Edge.WarmUp";

    private static readonly TimeSpan Round = TimeSpan.FromMilliseconds(500);

    private readonly TaskCompletionSource<WarmUpReport?> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the warm-up is over (or off): with what it did, or null when it was off or failed.</summary>
    public Task<WarmUpReport?> Done => _done.Task;

    public bool IsDone => _done.Task.IsCompleted;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value.WarmUp;
        if (!settings.Enabled || options.Value.Listener.HttpsPort is null) // an edge without a listener has no handshakes to warm
        {
            _done.TrySetResult(null);
            return;
        }
        await Task.Yield(); // the host's start goes on meanwhile: the silo joins its cluster while this runs
        WarmUpReport? report = null;
        try
        {
            report = await RunAsync(settings, stoppingToken);
            if (report.Failed > 0) LogWarmUpHandshakesFailed(report.Failed, report.Handshakes);
            LogWarmedUp(report.Handshakes, report.Resumed, report.Rounds, report.Took.TotalSeconds, report.MethodsCompiled,
                report.Settled ? "the compiler settled" : "Keyless:Edge:WarmUp:MaxDuration");
            // Then the remote key-call path, within what is left of MaxDuration.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            deadline.CancelAfter(settings.MaxDuration > report.Took ? settings.MaxDuration - report.Took : TimeSpan.Zero);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var calls = await keyCalls.RunAsync(settings, deadline.Token);
            stoppingToken.ThrowIfCancellationRequested();
            report = report with { KeyCalls = calls };
            if (calls.Succeeded + calls.Failed > 0)
                LogKeyCalls(calls.Succeeded + calls.Failed, calls.Succeeded, string.Join(", ", keyCalls.HostNames), clock.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping before it was over: nothing to report.
        }
        catch (Exception e)
        {
            LogWarmUpFailed(e);
        }
        finally
        {
            _done.TrySetResult(report);
        }
    }

    private async Task<WarmUpReport> RunAsync(EdgeWarmUpOptions settings, CancellationToken stopping)
    {
        var clock = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(settings.MaxDuration);
        var edge = options.Value;

        await using var tenant = new WarmUpTenant(crypto);
        var tickets = new SessionTicketKeyRing(options, time);
        var created = time.GetUtcNow() - edge.Resumption.TicketKeyRefresh; // old enough to seal at once
        tickets.Use(new SessionTicketKeySet([new SessionTicketKey(RandomBytes(16), RandomBytes(32), created)]));
        var context = new TlsServerContext(crypto, new RouteTable(tenant.Registry, time), new ServerChainCache(crypto), tenant.Keys,
            new TlsSessionCache(crypto, edge.Resumption.Lifetime, 1_000, time), DefaultHostName: null, edge.EdgeId)
        {
            Tickets = tickets,
            Tls13Groups = KeyShareGroups.Parse(edge.Tls.Tls13Groups, out _),
        };
        using var metrics = new EdgeMetrics(meters, MeterName);
        using var counts = new HandshakeCounts(metrics);
        using var failures = new FailedHandshakeLog(options, time, NullLogger<TlsConnection>.Instance);

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(256);
        var accepting = AcceptAsync(listener, context, metrics, failures, edge, deadline.Token);
        var client = new WarmUpClient((IPEndPoint)listener.LocalEndPoint!, tenant.Certificates);

        var compiledAtStart = JitInfo.GetCompiledMethodCount();
        var rounds = 0;
        var settled = false;
        try
        {
            while (!settled)
            {
                var before = JitInfo.GetCompiledMethodCount();
                var roundEnds = clock.Elapsed + Round;
                await Task.WhenAll(Enumerable.Range(0, settings.Connections).Select(worker => Task.Run(async () =>
                {
                    // Each worker starts at another scenario, so the kinds of handshake run side by side.
                    for (var i = worker; clock.Elapsed < roundEnds || i < worker + WarmUpScenario.All.Count; i++)
                    {
                        var scenario = WarmUpScenario.All[i % WarmUpScenario.All.Count];
                        try
                        {
                            await client.HandshakeAsync(scenario, deadline.Token);
                        }
                        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
                        {
                            counts.ClientFailed();
                        }
                    }
                }, deadline.Token)));
                rounds++;
                settled = rounds >= settings.MinRounds && JitInfo.GetCompiledMethodCount() - before < settings.SettledMethods;
            }
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            // MaxDuration: as warm as it got.
        }
        finally
        {
            listener.Dispose();
            await deadline.CancelAsync();
            await accepting;
        }
        return new WarmUpReport(counts.Handshakes, counts.Resumed, counts.Failed, rounds, clock.Elapsed,
            JitInfo.GetCompiledMethodCount() - compiledAtStart, settled);
    }

    /// <summary>The warm-up listener: each connection as the edge's listener serves one, on the edge's handshake threads.</summary>
    private async Task AcceptAsync(Socket listener, TlsServerContext context, EdgeMetrics metrics, FailedHandshakeLog failures, EdgeOptions edge,
        CancellationToken cancellationToken)
    {
        var connections = new List<Task>();
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                break;
            }
            client.NoDelay = true;
            connections.Add(Task.Run(() => new TlsConnection(client, context, pool, edge, metrics, failures, NullLogger<TlsConnection>.Instance)
                .RunAsync(cancellationToken), CancellationToken.None));
            connections.RemoveAll(c => c.IsCompleted);
        }
        try
        {
            await Task.WhenAll(connections);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Connections cut at the warm-up's end.
        }
    }

    private static byte[] RandomBytes(int count) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(count);

    /// <summary>The warm-up's handshakes by outcome, read off its own meter as <see cref="HandshakeWindow"/> reads the edge's.</summary>
    private sealed class HandshakeCounts : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _handshakes;
        private long _resumed;
        private long _failed;

        public HandshakeCounts(EdgeMetrics metrics)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, metrics.Meter) && instrument.Name == EdgeMetrics.Handshakes) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                bool ok = false, resumed = false;
                foreach (var tag in tags)
                {
                    if (tag.Key == "outcome") ok = tag.Value as string == "ok";
                    else if (tag.Key == "resumed") resumed = tag.Value is true;
                }
                if (!ok)
                {
                    Interlocked.Add(ref _failed, value);
                    return;
                }
                Interlocked.Add(ref _handshakes, value);
                if (resumed) Interlocked.Add(ref _resumed, value);
            });
            _listener.Start();
        }

        public long Handshakes => Interlocked.Read(ref _handshakes);
        public long Resumed => Interlocked.Read(ref _resumed);
        public long Failed => Interlocked.Read(ref _failed);

        /// <summary>A client that failed where the edge saw no handshake end (e.g. refused its certificate).</summary>
        public void ClientFailed() => Interlocked.Increment(ref _failed);

        public void Dispose() => _listener.Dispose();
    }

    [LoggerMessage(EventId = EventIds.WarmedUp, Level = LogLevel.Information, Message = "Edge warmed up: {Handshakes} handshakes with itself ({Resumed} resumed) in {Rounds} rounds, {Seconds:0.0} s, {Methods} methods compiled; ended by {EndedBy}")]
    private partial void LogWarmedUp(long handshakes, long resumed, int rounds, double seconds, long methods, string endedBy);

    [LoggerMessage(EventId = EventIds.WarmUpKeyCalls, Level = LogLevel.Information, Message = "Edge warm-up made {Calls} key calls ({Succeeded} answered) to the key servers of {HostNames} in {Seconds:0.0} s")]
    private partial void LogKeyCalls(int calls, int succeeded, string hostNames, double seconds);

    [LoggerMessage(EventId = EventIds.WarmUpHandshakesFailed, Level = LogLevel.Warning, Message = "{Failed} of the edge's warm-up handshakes failed ({Succeeded} succeeded); its first clients may be served colder")]
    private partial void LogWarmUpHandshakesFailed(long failed, long succeeded);

    [LoggerMessage(EventId = EventIds.WarmUpFailed, Level = LogLevel.Warning, Message = "The edge's warm-up failed; it reports ready without it")]
    private partial void LogWarmUpFailed(Exception exception);
}
