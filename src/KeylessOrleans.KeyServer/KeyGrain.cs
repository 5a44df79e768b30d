using System.Diagnostics;
using KeylessOrleans.Cluster.Placement;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.KeyServer.Delegation;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.GrainDirectory;

namespace KeylessOrleans.KeyServer;

/// <summary>
/// A tenant's key, served only on that tenant's on-prem silo (placement filter + class removal elsewhere).
/// Reentrant, with the costly key operations on the thread pool, so one hot key uses every core of the key server; a
/// P-256 signature costs less than the two thread hops there and back and runs in the grain's turn.
/// </summary>
[TenantKeyPlacement, GrainDirectory(PlacementRuleDirectory.Name), Reentrant]
internal sealed partial class KeyGrain(
    KeyOperations operations,
    CredentialDelegation delegation,
    EdgeAuthenticator authenticator,
    KeyAccessGuard guard,
    IOptions<KeyServerOptions> options,
    KeyServerMetrics metrics,
    AuditLog audit,
    ILogger<KeyGrain> logger) : Grain, IKeyGrain
{
    private KeyGrainKey _identity;
    private string? _misplaced;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        if (!KeyGrainKey.TryParse(key, out _identity))
            _misplaced = $"grain key '{key}' is not tenant/replica/keyId";
        else if (_identity.Tenant != options.Value.Tenant || _identity.Replica != options.Value.Replica)
            _misplaced = $"grain for {_identity.Tenant}/{_identity.Replica} activated on the silo of {options.Value.Tenant}/{options.Value.Replica}";
        if (_misplaced is not null) LogMisplaced(key, _misplaced);
        if (options.Value.DrillDelay > TimeSpan.Zero) LogDrill(key, options.Value.DrillDelay.TotalMilliseconds);
        return Task.CompletedTask;
    }

    public Task<KeyOperationResult> PerformAsync(KeyRequest request, CancellationToken cancellationToken = default) =>
        RunAsync(request, () => request switch
        {
            SignCertificateVerifyRequest r => operations.SignCertificateVerify(_identity.KeyId, r.Scheme, r.SignedContent),
            SignServerKeyExchangeRequest r => operations.SignServerKeyExchange(_identity.KeyId, r.Scheme, r.SignedParams),
            DeriveMasterSecretRequest r => operations.DeriveMasterSecret(_identity.KeyId, r.Exchange),
            DelegateCredentialRequest r => delegation.Issue(_identity.KeyId, r),
            ProvePossessionRequest r => operations.ProvePossession(_identity, r.Scheme, r.Challenge),
            // A request type this key server does not know how to serve (a newer edge's): refused, recorded, no key used.
            _ => KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, $"this key server does not perform {request.Operation}"),
        });

    public Task<EdgeSessionGrant> OpenEdgeSessionAsync(EdgeSessionRequest request, CancellationToken cancellationToken = default)
    {
        if (_misplaced is not null) return Task.FromResult(EdgeSessionGrant.Refused("key grain is not on its tenant's silo"));
        if (!authenticator.IsEnabled)
            return Task.FromResult(EdgeSessionGrant.Refused("this key server does not authenticate edges (no Keyless:KeyServer:Access:EdgeCa)"));
        string? limited = null;
        var (grant, edge) = authenticator.OpenSession(_identity.Tenant, _identity.Replica, request, name =>
        {
            // The tenant's allow-list first: an edge it does not name gets no session (and takes no tokens).
            if (!guard.Allows(name)) return $"edge {name} is not among this tenant's allowed edges";
            // Rates are taken only once the edge is authenticated: forged session requests cannot use them up.
            if (guard.AdmitSessionOpen(name) is not { } refusal) return null;
            limited = refusal.Reason;
            return refusal.Detail;
        });
        if (limited is not null)
        {
            metrics.Denied(EdgeSessionRequest.OperationName, limited);
            LogSessionThrottled(edge!, _identity.Tenant, _identity.Replica, grant.Problem!); // a busy edge: no warning per request
        }
        else
        {
            metrics.EdgeSession(grant.Problem is null ? "opened" : "refused");
            if (grant.Problem is null) LogSessionOpened(edge!, _identity.Tenant, _identity.Replica, DateTimeOffset.FromUnixTimeMilliseconds(grant.ExpiresUnixTimeMilliseconds));
            else if (edge is not null) LogSessionRefused(edge, _identity.Tenant, _identity.Replica, grant.Problem);
            else LogSessionRefusedUncertified(_identity.Tenant, _identity.Replica, grant.Problem); // anyone can send these: no warning flood
        }
        return Task.FromResult(grant);
    }

    public Task<KeyDescriptionResult> DescribeAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_misplaced is null
            ? operations.Describe(_identity.KeyId)
            : new KeyDescriptionResult(KeyOperationStatus.Unauthorized, Detail: "key grain is not on its tenant's silo"));

    private async Task<KeyOperationResult> RunAsync(KeyRequest request, Func<KeyOperationResult> work)
    {
        var (operation, context, input) = (request.Operation, request.Context, request.Input());
        var started = Stopwatch.GetTimestamp();
        if (options.Value.DrillDelay > TimeSpan.Zero) await Task.Delay(options.Value.DrillDelay);
        KeyOperationResult result;
        try
        {
            result = CheckContext(context) ?? (operations.RunsInTurn(_identity.KeyId, request) ? work() : await Task.Run(work));
            result = await audit.RecordAsync(operation, context, input, result); // every outcome; no record, no output
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            result = await audit.RecordFailureAsync(operation, context, input, e); // recorded, and a typed error for the edge
        }
        metrics.Record(operation, result.Status, Stopwatch.GetElapsedTime(started));
        var edge = KeyAccessFilter.AuthorizedEdge ?? context.EdgeId; // the authenticated name when edge proofs are on
        if (result.IsOk)
            LogDone(operation, context.Tenant, context.KeyId, edge, context.ServerName, context.ClientAddress);
        else
            LogRefused(operation, result.Status, result.Detail, context.Tenant, context.KeyId, edge, context.ServerName, context.ClientAddress);
        return result;
    }

    /// <summary>The request must name this grain's own tenant and key: a mismatch is a forged or confused request.</summary>
    private KeyOperationResult? CheckContext(KeyRequestContext context)
    {
        if (_misplaced is not null)
            return KeyOperationResult.Failure(KeyOperationStatus.Unauthorized, "key grain is not on its tenant's silo");
        if (context.Tenant != _identity.Tenant || context.KeyId != _identity.KeyId)
            return KeyOperationResult.Failure(KeyOperationStatus.InvalidRequest, "request names another tenant or key than the grain it was sent to");
        return null;
    }

    [LoggerMessage(EventId = EventIds.KeyOperationDone, Level = LogLevel.Debug, Message = "{Operation} done for {Tenant} key {KeyId} (edge {EdgeId}, sni {ServerName}, client {ClientAddress})")]
    private partial void LogDone(string operation, string tenant, string keyId, string edgeId, string? serverName, string? clientAddress);

    [LoggerMessage(EventId = EventIds.KeyOperationRefused, Level = LogLevel.Warning, Message = "{Operation} refused with {Outcome}: {Detail} (tenant {Tenant}, key {KeyId}, edge {EdgeId}, sni {ServerName}, client {ClientAddress})")]
    private partial void LogRefused(string operation, KeyOperationStatus outcome, string? detail, string tenant, string keyId, string edgeId, string? serverName, string? clientAddress);

    [LoggerMessage(EventId = EventIds.EdgeSessionOpened, Level = LogLevel.Information, Message = "Edge {Edge} opened a session with {Tenant}/{Replica} until {Expires:O}: its requests carry an HMAC now, not a signature")]
    private partial void LogSessionOpened(string edge, string tenant, string replica, DateTimeOffset expires);

    [LoggerMessage(EventId = EventIds.EdgeSessionRefused, Level = LogLevel.Warning, Message = "Edge session refused (edge {Edge}, {Tenant}/{Replica}): {Problem}")]
    private partial void LogSessionRefused(string edge, string tenant, string replica, string problem);

    [LoggerMessage(EventId = EventIds.EdgeSessionRefusedUncertified, Level = LogLevel.Debug, Message = "Edge session refused ({Tenant}/{Replica}): {Problem}")]
    private partial void LogSessionRefusedUncertified(string tenant, string replica, string problem);

    [LoggerMessage(EventId = EventIds.EdgeSessionThrottled, Level = LogLevel.Debug, Message = "Edge session of {Edge} with {Tenant}/{Replica} refused: {Problem}")]
    private partial void LogSessionThrottled(string edge, string tenant, string replica, string problem);

    [LoggerMessage(EventId = EventIds.KeyGrainDrillDelay, Level = LogLevel.Warning, Message = "Key grain {GrainKey} delays every operation by {DelayMs:0} ms (fault drill: Keyless:KeyServer:DrillDelay)")]
    private partial void LogDrill(string grainKey, double delayMs);

    [LoggerMessage(EventId = EventIds.KeyGrainMisplaced, Level = LogLevel.Error, Message = "Key grain {GrainKey} refuses to serve: {Reason}")]
    private partial void LogMisplaced(string grainKey, string reason);
}
