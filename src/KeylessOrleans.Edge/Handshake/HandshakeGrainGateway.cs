using KeylessOrleans.Cluster.Diagnostics;
using KeylessOrleans.Edge.CallAccess;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Handshake;

/// <summary>
/// Key operations through this silo's local handshake grain, blocking the calling handshake thread — but only
/// while the tenant is within its <see cref="TenantBulkhead"/>; beyond it the call is shed at once. Each call carries
/// the process's <see cref="LocalCallSecret"/>: the handshake grain serves this process only.
/// </summary>
internal sealed partial class HandshakeGrainGateway(
    IGrainFactory grains,
    TenantBulkhead bulkhead,
    LocalCallSecret local,
    EdgeMetrics metrics,
    IOptions<EdgeOptions> options,
    TimeProvider time,
    ILogger<HandshakeGrainGateway> logger) : IKeyOperationGateway, IDisposable
{
    // Per tenant, the first shed call in 10 s in full, then one line with the count: a shedding edge is under
    // pressure and must not also flood its log.
    private readonly LogThrottle<string> _shedLog = new(TimeSpan.FromSeconds(10), firstInFull: 1, maxKeys: 256, overflowKey: "(other tenants)",
        (tenant, count) => LogShedSummary(logger, count, tenant), time);

    // Resolved once: GetGrain resolves the interface's grain type by reflection on every call.
    private IHandshakeGrain Grain => field ??= grains.GetGrain<IHandshakeGrain>(0);

    public KeyOperationResult Perform(KeyCall call, KeyRequest request)
    {
        var tenant = request.Context.Tenant;
        if (!bulkhead.TryEnter(tenant)) return Shed(tenant, request.Operation);
        try
        {
            // Started on the thread pool, not on this handshake thread: Orleans pools a call's completion source per
            // thread, taking it on the calling thread and returning it on the thread that completes the call. Taken on
            // dedicated handshake threads and returned on pool threads, sources pile up in the pool threads' stacks
            // for good and are never taken again (the soak's edge held 300,000 of them after 900,000 handshakes).
            return Wait(Task.Run(() => PerformAsync(call, request)));
        }
        finally
        {
            bulkhead.Exit(tenant);
        }
    }

    public Task<KeyOperationResult> PerformAsync(KeyCall call, KeyRequest request) => local.Call(() => Grain.PerformAsync(call, request));

    /// <summary>The grain bounds its own time; this outer bound only guards against a stuck local call.</summary>
    private KeyOperationResult Wait(Task<KeyOperationResult> call)
    {
        if (!QuietWait.For(call, options.Value.KeyCalls.Timeout + TimeSpan.FromSeconds(1)))
            return KeyOperationResult.Failure(KeyOperationStatus.Unavailable, "handshake grain failed: no answer in time");
        try
        {
            return call.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            return KeyOperationResult.Failure(KeyOperationStatus.Unavailable, $"handshake grain failed: {e.GetType().Name}");
        }
    }

    private KeyOperationResult Shed(string tenant, string operation)
    {
        metrics.RecordKeyCall(tenant, operation, KeyOperationStatus.Overloaded, TimeSpan.Zero);
        if (_shedLog.ShouldLog(tenant)) LogShed(tenant, bulkhead.LimitPerTenant);
        return KeyOperationResult.Failure(KeyOperationStatus.Overloaded,
            $"tenant {tenant} already has {bulkhead.LimitPerTenant} key calls in flight on this edge");
    }

    public void Dispose() => _shedLog.Dispose();

    [LoggerMessage(EventId = EventIds.KeyCallsShed, Level = LogLevel.Warning, Message = "Shedding key calls of tenant {Tenant}: its {Limit} key calls in flight on this edge are all waiting (Keyless:Edge:KeyCalls:MaxPerTenant); more are counted in one line per 10 s")]
    private partial void LogShed(string tenant, int limit);

    [LoggerMessage(EventId = EventIds.KeyCallsShedSummary, Level = LogLevel.Warning, Message = "... and {Count} more key calls of tenant {Tenant} shed in the last 10 s")]
    private static partial void LogShedSummary(ILogger logger, long count, string tenant);
}
