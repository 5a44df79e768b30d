using System.Diagnostics;
using KeylessOrleans.Cluster.Placement;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.GrainDirectory;

namespace KeylessOrleans.Edge.Handshake;

/// <inheritdoc cref="IHandshakeGrain"/>
/// <remarks>
/// Reentrant: a call spends nearly all its time awaiting a key server, and without reentrancy each activation
/// would serve one call at a time — a slow tenant would then queue every other tenant's calls behind its own.
/// Its directory is <see cref="PlacementRuleDirectory"/>: a stateless worker is never registered anywhere, yet with
/// the default directory a cache miss (after a forwarded call) asked whichever silo owns its id's hash, so a dead
/// bystander silo could fail this edge's handshakes.
/// </remarks>
[StatelessWorker, GrainDirectory(PlacementRuleDirectory.Name), Reentrant]
internal sealed partial class HandshakeGrain(
    KeyServerClient keys,
    ReplicaHealth health,
    AnswerCheck answers,
    EdgeMetrics metrics,
    IOptions<EdgeOptions> options,
    ILogger<HandshakeGrain> logger)
    : Grain, IHandshakeGrain
{
    private static int _spread;

    /// <summary>
    /// Asks the best replica, and uses its answer only once <see cref="AnswerCheck"/> found it fit. When it fails — or has not answered within <see cref="EdgeKeyCallOptions.FailoverAfter"/> —
    /// and the tenant has another replica, asks that one too and takes the first usable answer (a hedged request:
    /// a slow replica may still win, a dead one costs at most the failover delay). Both attempts end by the one
    /// overall <see cref="EdgeKeyCallOptions.Timeout"/>, so failover never makes a handshake wait longer.
    /// Replicas whose circuit is open (<see cref="ReplicaHealth.TryAdmit"/>) are passed over; when that is all of
    /// them the call fails at once.
    /// </summary>
    public async Task<KeyOperationResult> PerformAsync(KeyCall call, KeyRequest request)
    {
        var tenant = request.Context.Tenant;
        if (call.Replicas.Count == 0)
            return KeyOperationResult.Failure(KeyOperationStatus.Unavailable, $"tenant {tenant} has no registered key server for key {request.Context.KeyId}");

        var settings = options.Value;
        var started = Stopwatch.GetTimestamp();
        var order = health.Order(tenant, call.Replicas, Interlocked.Increment(ref _spread));
        var next = 0;
        string? Admit() // the next replica in order whose circuit lets a call through; asked only when needed
        {
            while (next < order.Count)
            {
                var replica = order[next++];
                if (health.TryAdmit(tenant, replica)) return replica;
            }
            return null;
        }

        if (Admit() is not { } firstReplica)
        {
            metrics.KeyCallShortCircuited(tenant);
            return KeyOperationResult.Failure(KeyOperationStatus.Unavailable,
                $"every key server of tenant {tenant} failed its last {ReplicaHealth.FailuresToOpen} calls; probing again within {ReplicaHealth.ProbeInterval.TotalMilliseconds:0} ms");
        }
        var first = AttemptAsync(call, request, firstReplica, settings.KeyCalls.Timeout);
        if (next == order.Count) return await first;

        await Task.WhenAny(first, Task.Delay(settings.KeyCalls.FailoverAfter));
        if (first.IsCompleted && Usable(first.Result)) return first.Result;

        var remaining = settings.KeyCalls.Timeout - Stopwatch.GetElapsedTime(started);
        if (remaining <= TimeSpan.Zero || Admit() is not { } secondReplica) return await first;
        metrics.KeyCallFailover(tenant, first.IsCompleted ? "failed" : "slow");
        var second = AttemptAsync(call, request, secondReplica, remaining);
        if (first.IsCompleted) return await second;

        var winner = await Task.WhenAny(first, second);
        if (Usable(winner.Result)) return winner.Result;
        return await (winner == first ? second : first);
    }

    /// <summary>
    /// Any answer from a key server counts, refusals included; "could not reach it" sends us elsewhere, and so does an
    /// answer that fails verification (that replica is broken or hostile), and so does a replica whose audit log
    /// failed (its disk, not the request): another may answer properly.
    /// </summary>
    private static bool Usable(KeyOperationResult result) =>
        result.Status is not (KeyOperationStatus.Unavailable or KeyOperationStatus.BadAnswer or KeyOperationStatus.AuditFailed);

    /// <summary>One replica's answer, refused as <see cref="KeyOperationStatus.BadAnswer"/> when <see cref="AnswerCheck"/> finds it unfit.</summary>
    private async Task<KeyOperationResult> AttemptAsync(KeyCall call, KeyRequest request, string replica, TimeSpan timeout)
    {
        var (tenant, operation) = (request.Context.Tenant, request.Operation);
        var started = Stopwatch.GetTimestamp();
        var result = await keys.PerformAsync(replica, request, timeout);
        if (result.IsOk && answers.Problem(call.Certificate, replica, request, result.Output!) is { } problem)
        {
            metrics.KeyAnswerRejected(tenant, replica, operation);
            LogBadAnswer(operation, tenant, replica, problem);
            result = KeyOperationResult.Failure(KeyOperationStatus.BadAnswer, $"key server {tenant}/{replica} answered {operation} with {problem}");
        }
        if (Usable(result)) health.Succeeded(tenant, replica, Stopwatch.GetElapsedTime(started));
        else health.Failed(tenant, replica);
        return result;
    }

    [LoggerMessage(EventId = EventIds.KeyServerBadAnswer, Level = LogLevel.Warning, Message = "Key server {Tenant}/{Replica} answered {Operation} with {Problem}: not used, the replica counts as failed")]
    private partial void LogBadAnswer(string operation, string tenant, string replica, string problem);
}
