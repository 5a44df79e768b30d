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
public sealed partial class HandshakeGrain(
    KeyServerClient keys,
    ReplicaHealth health,
    AnswerCheck answers,
    EdgeMetrics metrics,
    IOptions<EdgeOptions> options,
    ILogger<HandshakeGrain> logger)
    : Grain, IHandshakeGrain
{
    private static int _spread;

    public Task<KeyOperationResult> SignCertificateVerifyAsync(KeyCall call, SignatureScheme scheme, byte[] signedContent) =>
        WithFailoverAsync(call, SignCertificateVerifyRequest.OperationName,
            (replica, timeout) => keys.SignCertificateVerifyAsync(replica, new SignCertificateVerifyRequest(Context(call), scheme, signedContent), timeout),
            signature => answers.SignatureProblem(call.Certificate, scheme, signedContent, signature));

    public Task<KeyOperationResult> SignServerKeyExchangeAsync(KeyCall call, SignatureScheme scheme, byte[] signedParams) =>
        WithFailoverAsync(call, SignServerKeyExchangeRequest.OperationName,
            (replica, timeout) => keys.SignServerKeyExchangeAsync(replica, new SignServerKeyExchangeRequest(Context(call), scheme, signedParams), timeout),
            signature => answers.SignatureProblem(call.Certificate, scheme, signedParams, signature));

    /// <summary>A master secret cannot be checked without the key; a wrong one fails at the client's Finished.</summary>
    public Task<KeyOperationResult> DeriveMasterSecretAsync(KeyCall call, RsaKeyExchange exchange) =>
        WithFailoverAsync(call, DeriveMasterSecretRequest.OperationName,
            (replica, timeout) => keys.DeriveMasterSecretAsync(replica, new DeriveMasterSecretRequest(Context(call), exchange), timeout),
            static secret => secret.Length == 48 ? null : $"a master secret of {secret.Length} bytes");

    public Task<KeyOperationResult> DelegateCredentialAsync(KeyCall call, DelegationAsk ask) =>
        WithFailoverAsync(call, DelegateCredentialRequest.OperationName,
            (replica, timeout) => keys.DelegateCredentialAsync(replica, new DelegateCredentialRequest(
                Context(call), ask.CertificateSha256, ask.Scheme, ask.DelegatedScheme, ask.DelegatedPublicKey, ask.ValiditySeconds,
                PossessionTime: ask.PossessionTime, PossessionSignature: ask.PossessionSignature), timeout),
            credential => answers.CredentialProblem(call.Certificate, ask, credential));

    private KeyRequestContext Context(KeyCall call) => keys.Context(call.Tenant, call.KeyId, call.ServerName, call.ClientAddress);

    /// <summary>
    /// Asks the best replica. When it fails — or has not answered within <see cref="EdgeKeyCallOptions.FailoverAfter"/> —
    /// and the tenant has another replica, asks that one too and takes the first usable answer (a hedged request:
    /// a slow replica may still win, a dead one costs at most the failover delay). Both attempts end by the one
    /// overall <see cref="EdgeKeyCallOptions.Timeout"/>, so failover never makes a handshake wait longer.
    /// Replicas whose circuit is open (<see cref="ReplicaHealth.TryAdmit"/>) are passed over; when that is all of
    /// them the call fails at once.
    /// </summary>
    /// <param name="check">Why an Ok answer's output is unfit for use, or null when it is fit (<see cref="AnswerCheck"/>).</param>
    private async Task<KeyOperationResult> WithFailoverAsync(
        KeyCall call, string operation, Func<string, TimeSpan, Task<KeyOperationResult>> attempt, Func<byte[], string?> check)
    {
        if (call.Replicas.Count == 0)
            return KeyOperationResult.Failure(KeyOperationStatus.Unavailable, $"tenant {call.Tenant} has no registered key server for key {call.KeyId}");

        var settings = options.Value;
        var started = Stopwatch.GetTimestamp();
        var order = health.Order(call.Tenant, call.Replicas, Interlocked.Increment(ref _spread));
        var next = 0;
        string? Admit() // the next replica in order whose circuit lets a call through; asked only when needed
        {
            while (next < order.Count)
            {
                var replica = order[next++];
                if (health.TryAdmit(call.Tenant, replica)) return replica;
            }
            return null;
        }

        if (Admit() is not { } firstReplica)
        {
            metrics.KeyCallShortCircuited(call.Tenant);
            return KeyOperationResult.Failure(KeyOperationStatus.Unavailable,
                $"every key server of tenant {call.Tenant} failed its last {ReplicaHealth.FailuresToOpen} calls; probing again within {ReplicaHealth.ProbeInterval.TotalMilliseconds:0} ms");
        }
        var first = AttemptAsync(call.Tenant, operation, firstReplica, settings.KeyCalls.Timeout, attempt, check);
        if (next == order.Count) return await first;

        await Task.WhenAny(first, Task.Delay(settings.KeyCalls.FailoverAfter));
        if (first.IsCompleted && Usable(first.Result)) return first.Result;

        var remaining = settings.KeyCalls.Timeout - Stopwatch.GetElapsedTime(started);
        if (remaining <= TimeSpan.Zero || Admit() is not { } secondReplica) return await first;
        metrics.KeyCallFailover(call.Tenant, first.IsCompleted ? "failed" : "slow");
        var second = AttemptAsync(call.Tenant, operation, secondReplica, remaining, attempt, check);
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

    private async Task<KeyOperationResult> AttemptAsync(
        string tenant, string operation, string replica, TimeSpan timeout, Func<string, TimeSpan, Task<KeyOperationResult>> attempt, Func<byte[], string?> check)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await attempt(replica, timeout);
        if (result.IsOk && check(result.Output!) is { } problem)
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
