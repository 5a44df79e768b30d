using System.Collections.Concurrent;
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
public sealed partial class KeyAccessFilter(KeyAccessGuard guard, AuditLog audit, KeyServerMetrics metrics, TimeProvider time, ILogger<KeyAccessFilter> logger)
    : IIncomingGrainCallFilter
{
    private static readonly AsyncLocal<string?> CurrentEdge = new();
    private readonly ConcurrentDictionary<(string Reason, string Edge), long> _lastLogged = new();

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
        if (context.Request.GetArgumentCount() == 0 || context.Request.GetArgument(0) is not IKeyOperationRequest request)
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
            context.Result = await audit.RecordAsync(request.Operation, request.Context, AuditInput(request), refusal, decision.Edge);
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

    /// <summary>The bytes the key grain records for the same request (its input, whose SHA-256 goes in the record).</summary>
    private static byte[] AuditInput(IKeyOperationRequest request) => request switch
    {
        SignCertificateVerifyRequest r => r.SignedContent,
        SignServerKeyExchangeRequest r => r.SignedParams,
        DeriveMasterSecretRequest r => r.Exchange.Input(),
        DelegateCredentialRequest r => r.Input(),
        ProvePossessionRequest r => r.Challenge,
        _ => [],
    };

    /// <summary>One line per reason and edge per 10 s: a flood of forged requests must not become a flood of log lines.</summary>
    private void LogThrottled(string reason, string edge, string detail)
    {
        var now = time.GetTimestamp();
        var key = (reason, edge);
        if (_lastLogged.TryGetValue(key, out var last) && time.GetElapsedTime(last, now) < TimeSpan.FromSeconds(10)) return;
        if (_lastLogged.Count > 10_000) _lastLogged.Clear();
        _lastLogged[key] = now;
        LogRefused(reason, edge, detail);
    }

    [LoggerMessage(EventId = EventIds.KeyRequestRefused, Level = LogLevel.Warning, Message = "Refused a key request ({Reason}) from edge {Edge}: {Detail}")]
    private partial void LogRefused(string reason, string edge, string detail);
}
