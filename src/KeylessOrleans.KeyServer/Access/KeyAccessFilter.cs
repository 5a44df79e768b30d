using KeylessOrleans.Cluster.Diagnostics;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// The on-prem silo's gate (an incoming grain-call filter): only key-grain calls and the key server grain's (public
/// chains) get in, and a key operation runs
/// only when <see cref="KeyAccessGuard"/> lets it. A refusal is a typed result, a metric and a (throttled) log line,
/// and no key is touched. Membership in the cluster is not authorization: any silo can send a grain call here.
/// </summary>
internal sealed partial class KeyAccessFilter(KeyAccessGuard guard, AuditLog audit, KeyServerMetrics metrics, TimeProvider time, ILogger<KeyAccessFilter> logger)
    : IIncomingGrainCallFilter, IDisposable
{
    private static readonly AsyncLocal<string?> CurrentEdge = new();

    // Per reason and edge, the first refusal in 10 s in full, then one line with the count: a flood of forged
    // requests must not become a flood of log lines (nor of remembered edges: past 1,000 they are counted together).
    private readonly LogThrottle<(string Reason, string Edge)> _refusalLog = new(TimeSpan.FromSeconds(10), firstInFull: 1, maxKeys: 1000,
        overflowKey: ("*", "(other edges)"), (key, count) => LogRefusedSummary(logger, count, key.Reason, key.Edge), time);

    /// <summary>The edge the current key operation was authorized for (authenticated when edge proofs are on).</summary>
    public static string? AuthorizedEdge => CurrentEdge.Value;

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.TargetId.IsSystemTarget())
        {
            await context.Invoke(); // Orleans' own traffic: membership, directory, metadata
            return;
        }
        if (context.InterfaceMethod.DeclaringType == typeof(IKeyServerGrain))
        {
            await context.Invoke(); // the replica's public chains
            return;
        }
        if (context.InterfaceMethod.DeclaringType != typeof(IKeyGrain))
        {
            metrics.Denied(context.MethodName, "not_a_key_grain");
            LogThrottled("not_a_key_grain", context.SourceId?.ToString() ?? "?", $"{context.InterfaceName}.{context.MethodName} on {context.TargetId}");
            throw new UnauthorizedAccessException("an on-prem key server serves key grains and its key server grain only");
        }
        if (context.Request.GetArgumentCount() > 0 && context.Request.GetArgument(0) is EdgeSessionRequest)
        {
            // The key grain checks the certificate and signature, then takes the rates (KeyAccessGuard.AdmitSessionOpen):
            // taking them here, before anyone is authenticated, would let forged requests use them up.
            await context.Invoke();
            return;
        }
        if (context.Request.GetArgumentCount() == 0 || context.Request.GetArgument(0) is not KeyRequest request)
        {
            await context.Invoke(); // Describe: public key facts only
            return;
        }
        if (!KeyGrainKey.TryParse(context.TargetId.Key.ToString(), out var target))
        {
            context.Result = KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, "not a key grain id");
            return;
        }

        var decision = guard.Check(target, request);
        if (decision.Refusal is { } refusal)
        {
            metrics.Denied(request.Operation, decision.Reason);
            LogThrottled(decision.Reason, decision.Edge, $"{request.Operation} on key {target.KeyId} for '{request.Context.ServerName}': {refusal.Detail}");
            // Refusals are key operations asked for: the tenant's audit trail has them too.
            context.Result = await audit.RecordAsync(request.Operation, request.Context, request.Input(), refusal, decision.Edge);
            return;
        }
        CurrentEdge.Value = decision.Edge;
        try
        {
            await context.Invoke();
        }
        finally
        {
            CurrentEdge.Value = null;
        }
    }

    private void LogThrottled(string reason, string edge, string detail)
    {
        if (_refusalLog.ShouldLog((reason, edge))) LogRefused(reason, edge, detail);
    }

    public void Dispose() => _refusalLog.Dispose();

    [LoggerMessage(EventId = EventIds.KeyRequestRefused, Level = LogLevel.Warning, Message = "Refused a key request ({Reason}) from edge {Edge}: {Detail}")]
    private partial void LogRefused(string reason, string edge, string detail);

    [LoggerMessage(EventId = EventIds.KeyRequestsRefusedSummary, Level = LogLevel.Warning, Message = "... and {Count} more key requests ({Reason}) from edge {Edge} refused in the last 10 s")]
    private static partial void LogRefusedSummary(ILogger logger, long count, string reason, string edge);
}
