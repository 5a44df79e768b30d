using System.Diagnostics;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.KeyAccess;

/// <summary>
/// The edge's way to a tenant's key grain. Every call has a deadline, and every failure to reach the key
/// server (no live replica, a dead silo, a deadline) comes back as the typed <see cref="KeyOperationStatus.Unavailable"/>
/// outcome — never an exception, never a wait for Orleans' 30 s response timeout.
/// </summary>
internal sealed partial class KeyServerClient(
    TenantClusterClients tenants,
    IOptions<EdgeOptions> options,
    EdgeProofSigner signer,
    EdgeMetrics metrics,
    ILogger<KeyServerClient> logger)
{
    /// <summary>
    /// Signs <paramref name="request"/> for the replica's key grain (each replica gets its own proof: the proof names
    /// the grain) and sends it; the request is otherwise sent as it is.
    /// </summary>
    public async Task<KeyOperationResult> PerformAsync(string replica, KeyRequest request, TimeSpan? timeout = null)
    {
        var context = request.Context;
        var operation = request.Operation;
        var started = Stopwatch.GetTimestamp();
        var limit = timeout ?? options.Value.KeyCalls.Timeout;
        using var deadline = new CancellationTokenSource(limit);
        KeyOperationResult result;
        try
        {
            // Nothing of this silo's request context travels to a tenant: not the operator's call proofs, not local secrets.
            RequestContext.Clear();
            var target = new KeyGrainKey(context.Tenant, replica, context.KeyId);
            var grains = await tenants.GrainsAsync(context.Tenant, deadline.Token);
            var grain = KeyGrainReferences.Get(grains, target);
            KeyRequest Proven() => request with { Proof = signer.Sign(target, request) };
            var proven = Proven();
            // WaitAsync bounds the wait even where Orleans does not observe the token (placement retries).
            result = await grain.PerformAsync(proven, deadline.Token).WaitAsync(deadline.Token);
            if (proven.Proof?.Session is { } session && result is { Status: KeyOperationStatus.Unauthorized, Detail: EdgeSessionCrypto.UnknownSession })
            {
                // The key server restarted (or ended the session): the same request again, signed, and a new session.
                signer.Forget(context.Tenant, replica, session);
                result = await grain.PerformAsync(Proven(), deadline.Token).WaitAsync(deadline.Token);
            }
            if (signer.TryClaimOpening(context.Tenant, replica)) _ = Task.Run(() => OpenSessionAsync(grain, context.Tenant, replica));
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            var reason = e is OperationCanceledException ? $"no answer within {limit.TotalMilliseconds:0} ms" : e.GetType().Name;
            result = KeyOperationResult.Failure(KeyOperationStatus.Unavailable, $"key server {context.Tenant}/{replica} unavailable: {reason}");
        }
        catch (Exception e)
        {
            result = KeyOperationResult.Failure(KeyOperationStatus.CryptoFailed, $"key server {context.Tenant}/{replica} failed: {e.GetType().Name}");
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        metrics.RecordKeyCall(context.Tenant, operation, result.Status, elapsed);
        if (!result.IsOk) LogKeyCallFailed(operation, context.Tenant, replica, context.KeyId, result.Status, result.Detail, elapsed.TotalMilliseconds);
        return result;
    }

    /// <summary>A request context for this edge.</summary>
    public KeyRequestContext Context(string tenant, string keyId, string? serverName, string? clientAddress) =>
        new(tenant, keyId, serverName, clientAddress, options.Value.EdgeId);

    /// <summary>Opens an edge session with the replica in the background; until it is open, requests stay signed.</summary>
    private async Task OpenSessionAsync(IKeyGrain grain, string tenant, string replica)
    {
        var (request, ephemeral) = signer.NewSessionRequest(tenant, replica);
        using (ephemeral)
        {
            try
            {
                using var deadline = new CancellationTokenSource(options.Value.KeyCalls.Timeout);
                var grant = await grain.OpenEdgeSessionAsync(request, deadline.Token).WaitAsync(deadline.Token);
                if (signer.Opened(tenant, replica, request, ephemeral, grant) is { } problem) LogSessionRefused(tenant, replica, problem);
                else LogSessionOpened(tenant, replica, DateTimeOffset.FromUnixTimeMilliseconds(grant.ExpiresUnixTimeMilliseconds));
            }
            catch (Exception e)
            {
                signer.OpenFailed(tenant, replica);
                LogSessionRefused(tenant, replica, e.GetType().Name);
            }
        }
    }

    private static bool IsUnreachable(Exception e) =>
        e is OperationCanceledException or TimeoutException or OrleansException;

    [LoggerMessage(EventId = EventIds.EdgeSessionOpened, Level = LogLevel.Information, Message = "Edge session with {Tenant}/{Replica} open until {Expires:O}: key requests there carry an HMAC instead of a signature")]
    private partial void LogSessionOpened(string tenant, string replica, DateTimeOffset expires);

    [LoggerMessage(EventId = EventIds.EdgeSessionRefused, Level = LogLevel.Warning, Message = "No edge session with {Tenant}/{Replica}: {Problem}; key requests stay signed; trying again later")]
    private partial void LogSessionRefused(string tenant, string replica, string problem);

    [LoggerMessage(EventId = EventIds.KeyCallFailed, Level = LogLevel.Warning, Message = "{Operation} for {Tenant}/{Replica} key {KeyId} ended {Outcome} after {ElapsedMs:0.0} ms: {Detail}")]
    private partial void LogKeyCallFailed(string operation, string tenant, string replica, string keyId, KeyOperationStatus outcome, string? detail, double elapsedMs);
}
