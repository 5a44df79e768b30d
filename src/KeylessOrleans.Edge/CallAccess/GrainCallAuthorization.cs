using KeylessOrleans.Cluster;
using KeylessOrleans.Cluster.Diagnostics;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.CallAccess;

/// <summary>
/// Decides, on an edge silo, whether a grain call may run, by the <see cref="AllowedCallersAttribute"/> of the
/// called method: the caller's <see cref="CallProof"/> must hold (certificate from the cluster CA, signature over
/// this call, fresh, not replayed) and its role be allowed; <see cref="Callers.LocalProcess"/> methods need this
/// process's <see cref="LocalCallSecret"/>. KeylessOrleans interfaces that declare nothing are refused. System
/// targets and Orleans' own grains pass. The proof and the secret are taken out of the request context before the
/// grain runs, so nothing the grain calls next (tenants' clusters) receives them.
/// Without a cluster CA (single-machine demo, in-memory tests) no proof can be made or checked: calls by role pass,
/// and only the local secret is enforced.
/// </summary>
internal sealed partial class GrainCallAuthorization : IIncomingGrainCallFilter, IDisposable
{
    private readonly CallProofChecker? _checker;
    private readonly LocalCallSecret _local;
    private readonly EdgeMetrics _metrics;
    private readonly bool _sharedCluster;
    private readonly ILogger _logger;
    private readonly LogThrottle<string> _refusalLog;

    /// <param name="authority">The cluster CA, registered by <c>UseKeylessTls</c>; null without mutual TLS.</param>
    public GrainCallAuthorization(LocalCallSecret local, EdgeMetrics metrics, IOptions<EdgeOptions> options, TimeProvider time,
        ILogger<GrainCallAuthorization> logger, ClusterAuthority? authority = null)
    {
        _local = local;
        _metrics = metrics;
        _logger = logger;
        // Per interface, the first refusal in 10 s in full, then one line with the count: anyone who reaches the
        // gateway can trigger refusals at will.
        _refusalLog = new LogThrottle<string>(TimeSpan.FromSeconds(10), firstInFull: 1, maxKeys: 64, overflowKey: "other interfaces",
            (grainInterface, count) => LogRefusedSummary(logger, count, grainInterface), time);
        var o = options.Value;
        _sharedCluster = o.SharedCluster;
        if (authority is not null)
            _checker = new CallProofChecker(authority.Certificate, o.ControlPlane.CallProofWindow, o.ControlPlane.CallProofReplayCacheSize, time);
    }

    /// <summary>False without a cluster CA: callers cannot prove who they are.</summary>
    public bool ChecksProofs => _checker is not null;

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        var proof = RequestContext.Get(CallProof.ContextKey) as byte[];
        var local = RequestContext.Get(LocalCallSecret.ContextKey);
        if (proof is not null) RequestContext.Remove(CallProof.ContextKey);
        if (local is not null) RequestContext.Remove(LocalCallSecret.ContextKey);
        if (Refusal(context, proof, local) is { } refusal)
        {
            var grainInterface = context.InterfaceType.ToString();
            _metrics.GrainCallRefused(grainInterface, refusal.Reason);
            if (_refusalLog.ShouldLog(grainInterface)) LogRefused(grainInterface, context.MethodName, refusal.Problem);
            throw new UnauthorizedAccessException($"{grainInterface}.{context.MethodName} refused: {refusal.Problem}");
        }
        await context.Invoke();
    }

    private (string Reason, string Problem)? Refusal(IIncomingGrainCallContext context, byte[]? proof, object? local)
    {
        if (context.InterfaceMethod is not { DeclaringType: { } grainInterface } method) return null;
        if (grainInterface.Namespace?.StartsWith("KeylessOrleans", StringComparison.Ordinal) != true) return null; // Orleans' own grains
        if (CallerRules.For(method) is not { } allowed)
            return ("undeclared", $"{grainInterface.Name} declares no [AllowedCallers]");
        if (allowed.HasFlag(Callers.LocalProcess) && _local.Matches(local)) return null;
        if ((allowed & ~Callers.LocalProcess) == Callers.None) return ("not-local", "only the edge's own process may call it");
        if (_checker is null) return null;

        var (caller, problem) = _checker.Check(proof, CallProof.Call.Of(context));
        if (caller is null) return (proof is null ? "no-proof" : "bad-proof", problem!);
        var permitted = caller.Role switch
        {
            SiloIdentity.EdgeRole => allowed.HasFlag(Callers.Edge),
            SiloIdentity.OperatorRole => allowed.HasFlag(Callers.Operator),
            SiloIdentity.OnPremRole => allowed.HasFlag(Callers.OwnTenantOnPrem) && _sharedCluster
                && CallerRules.TenantOf(method, context.Request) == caller.Tenant,
            _ => false,
        };
        return permitted ? null : ("role", $"{caller} may not call it (allowed: {allowed}{(caller.Role == SiloIdentity.OnPremRole ? ", own tenant, single-organization mode only" : "")})");
    }

    public void Dispose() => _refusalLog.Dispose();

    [LoggerMessage(EventId = EventIds.GrainCallRefused, Level = LogLevel.Warning, Message = "Refused a call to {Interface}.{Method}: {Problem}; more refusals of it are counted in one line per 10 s")]
    private partial void LogRefused(string @interface, string method, string problem);

    [LoggerMessage(EventId = EventIds.GrainCallRefusedSummary, Level = LogLevel.Warning, Message = "... and {Count} more calls to {Interface} refused in the last 10 s")]
    private static partial void LogRefusedSummary(ILogger logger, long count, string @interface);
}

/// <summary>Says at start when grain calls cannot be authorized, so an operator does not take an open cluster for a closed one.</summary>
internal sealed partial class GrainCallAuthorizationCheck(ILogger<GrainCallAuthorization> logger, ClusterAuthority? authority = null) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (authority is null) LogOpen();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = EventIds.GrainCallsOpen, Level = LogLevel.Warning, Message = "No cluster CA (Keyless:Cluster:TlsCa): callers of this edge's grains cannot prove who they are, so any cluster member or client may read and change the registry and read the session-ticket keys. Use mutual TLS wherever anything spans machines")]
    private partial void LogOpen();
}
