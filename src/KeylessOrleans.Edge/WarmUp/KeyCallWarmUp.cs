using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.WarmUp;

/// <summary>What the key-call part of the warm-up did: calls answered Ok, and calls that were not.</summary>
internal sealed record KeyCallWarmUpReport(int Succeeded, int Failed);

/// <summary>
/// The second part of the warm-up (<see cref="EdgeWarmUp"/>): the first part's in-memory keys never reach the remote
/// key-call path (the handshake grain, the Orleans client to the tenant's cluster, request proofs, the answer check),
/// so after it the edge asks real key servers for possession proofs through the same gateway a handshake thread uses,
/// for the names in <see cref="EdgeWarmUpOptions.HostNames"/> (or the default host name). Each name is resolved as a
/// handshake would resolve it (registry, chain admission). The calls are real key operations: the tenant's key server
/// audits them as prove_possession from this edge, and the edge counts them in its key-call metrics. A name that is not
/// served, or whose key server does not answer, costs at most the time left in the warm-up; the edge then becomes
/// ready regardless.
/// </summary>
internal sealed partial class KeyCallWarmUp(
    IOptions<EdgeOptions> options,
    RouteTable routes,
    IKeyOperationGateway gateway,
    HandshakeWorkerPool pool,
    IHostApplicationLifetime lifetime,
    ILogger<KeyCallWarmUp> logger)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    /// <summary>The host names whose key servers the warm-up calls.</summary>
    public IReadOnlyList<string> HostNames
    {
        get
        {
            var edge = options.Value;
            if (edge.WarmUp.HostNames.Count > 0) return edge.WarmUp.HostNames;
            return string.IsNullOrWhiteSpace(edge.Tls.DefaultHostName) ? [] : [edge.Tls.DefaultHostName];
        }
    }

    /// <summary>
    /// Makes <see cref="EdgeWarmUpOptions.KeyCalls"/> calls in all, to the keys of whichever names resolve first, until
    /// <paramref name="deadline"/>. Names are resolved side by side: one no tenant serves holds up no other.
    /// </summary>
    public async Task<KeyCallWarmUpReport> RunAsync(EdgeWarmUpOptions settings, CancellationToken deadline)
    {
        var names = HostNames;
        if (names.Count == 0 || settings.KeyCalls <= 0) return new KeyCallWarmUpReport(0, 0);
        // Key calls go through this silo's handshake grain: the silo must have started, and the registry been read.
        await UntilAsync(() => lifetime.ApplicationStarted.IsCancellationRequested && routes.IsLoaded, deadline);

        var calls = new CallBudget(settings.KeyCalls);
        var served = await Task.WhenAll(names.Select(name => WarmAsync(name, calls, settings.Connections, deadline)));
        for (var i = 0; i < names.Count; i++)
            if (!served[i]) LogUnserved(names[i]);
        if (calls.Failed > 0) LogFailed(calls.Failed, calls.Succeeded + calls.Failed);
        return new KeyCallWarmUpReport(calls.Succeeded, calls.Failed);
    }

    /// <summary>Resolves <paramref name="name"/> as a handshake would, then calls its keys from the shared budget; false when it never had a key.</summary>
    private async Task<bool> WarmAsync(string name, CallBudget calls, int connections, CancellationToken deadline)
    {
        // A name of a tenant whose file is still being imported, or whose key server is still registering, resolves
        // later: ask again until it has a key or the warm-up's time is up.
        EdgeRoute? route = null;
        await UntilAsync(() => (route = TryResolve(name)) is { Keys.Keys.Count: > 0 }, deadline);
        if (route is not { Keys.Keys.Count: > 0 } served) return false;

        var keys = served.Keys.Keys;
        void Call()
        {
            while (!deadline.IsCancellationRequested && calls.TryTake(out var i))
            {
                var key = keys[i % keys.Count];
                var request = ChainAdmission.PossessionRequest(
                    new KeyRequestContext(served.TenantName, key.KeyId, served.HostName, null, options.Value.EdgeId), key.Algorithm);
                calls.Done(gateway.Perform(new KeyCall(key.Replicas, key.ChainDer[0]), request).IsOk);
            }
        }
        // On the handshake threads, blocking as a handshake's key callback does: Perform is that callback's path.
        // A worker the full queue refuses is simply not started; the others share the budget.
        var workers = new List<Task>();
        for (var w = 0; w < Math.Max(1, connections); w++)
            if (pool.TryRun(Call, out var worker)) workers.Add(worker);
        await Task.WhenAll(workers);
        return true;
    }

    /// <summary>The calls left to make, shared by every name's workers, and how the made ones went.</summary>
    private sealed class CallBudget(int total)
    {
        private int _taken = -1;
        private int _succeeded;
        private int _failed;

        public int Succeeded => Volatile.Read(ref _succeeded);
        public int Failed => Volatile.Read(ref _failed);

        public bool TryTake(out int index) => (index = Interlocked.Increment(ref _taken)) < total;

        public void Done(bool ok)
        {
            if (ok) Interlocked.Increment(ref _succeeded);
            else Interlocked.Increment(ref _failed);
        }
    }

    private EdgeRoute? TryResolve(string name)
    {
        try
        {
            return routes.Resolve(name);
        }
        catch (RegistryUnavailableException)
        {
            return null;
        }
    }

    /// <summary>
    /// Asks <paramref name="done"/> (off the caller's thread: a registry lookup blocks) until it says true or
    /// <paramref name="deadline"/> passes; at least once, so a name resolved by then is not missed.
    /// </summary>
    private static async Task UntilAsync(Func<bool> done, CancellationToken deadline)
    {
        while (!await Task.Run(done, CancellationToken.None))
        {
            try
            {
                await Task.Delay(Poll, deadline);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(EventId = EventIds.WarmUpHostNameUnserved, Level = LogLevel.Warning, Message = "The warm-up could not call a key server for {HostName} (Keyless:Edge:WarmUp:HostNames): no tenant with a registered key for it before the warm-up's time was up")]
    private partial void LogUnserved(string hostName);

    [LoggerMessage(EventId = EventIds.WarmUpKeyCallsFailed, Level = LogLevel.Warning, Message = "{Failed} of the warm-up's {Calls} key calls failed; the edge's first clients may find its key-call path colder")]
    private partial void LogFailed(int failed, int calls);
}
