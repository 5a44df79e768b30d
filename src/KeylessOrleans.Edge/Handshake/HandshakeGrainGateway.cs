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
public sealed partial class HandshakeGrainGateway(
    IGrainFactory grains,
    TenantBulkhead bulkhead,
    LocalCallSecret local,
    EdgeMetrics metrics,
    IOptions<EdgeOptions> options,
    ILogger<HandshakeGrainGateway> logger) : IKeyOperationGateway
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RefusalLogThrottle> _shedLogs = new(StringComparer.Ordinal);

    private IHandshakeGrain Grain => grains.GetGrain<IHandshakeGrain>(0);

    public KeyOperationResult SignCertificateVerify(KeyCall call, SignatureScheme scheme, byte[] signedContent) =>
        Run(call, SignCertificateVerifyRequest.OperationName, () => Grain.SignCertificateVerifyAsync(call, scheme, signedContent));

    public KeyOperationResult SignServerKeyExchange(KeyCall call, SignatureScheme scheme, byte[] signedParams) =>
        Run(call, SignServerKeyExchangeRequest.OperationName, () => Grain.SignServerKeyExchangeAsync(call, scheme, signedParams));

    public KeyOperationResult DeriveMasterSecret(KeyCall call, RsaKeyExchange exchange) =>
        Run(call, DeriveMasterSecretRequest.OperationName, () => Grain.DeriveMasterSecretAsync(call, exchange));

    public Task<KeyOperationResult> DelegateCredentialAsync(KeyCall call, DelegationAsk ask) => local.Call(() => Grain.DelegateCredentialAsync(call, ask));

    private KeyOperationResult Run(KeyCall call, string operation, Func<Task<KeyOperationResult>> send)
    {
        if (!bulkhead.TryEnter(call.Tenant)) return Shed(call, operation);
        try
        {
            return Wait(local.Call(send));
        }
        finally
        {
            bulkhead.Exit(call.Tenant);
        }
    }

    /// <summary>The grain bounds its own time; this outer bound only guards against a stuck local call.</summary>
    private KeyOperationResult Wait(Task<KeyOperationResult> call)
    {
        if (!QuietWait.For(call, options.Value.KeyCallTimeout + TimeSpan.FromSeconds(1)))
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

    private KeyOperationResult Shed(KeyCall call, string operation)
    {
        metrics.RecordKeyCall(call.Tenant, operation, KeyOperationStatus.Overloaded, TimeSpan.Zero);
        // One line per tenant per 10 s: a shedding edge is under pressure and must not also flood its log.
        if (_shedLogs.GetOrAdd(call.Tenant, _ => new RefusalLogThrottle(TimeSpan.FromSeconds(10))).ShouldLog(out var suppressed))
            LogShed(call.Tenant, bulkhead.LimitPerTenant, suppressed);
        return KeyOperationResult.Failure(KeyOperationStatus.Overloaded,
            $"tenant {call.Tenant} already has {bulkhead.LimitPerTenant} key calls in flight on this edge");
    }

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Shedding key calls of tenant {Tenant}: its {Limit} key calls in flight on this edge are all waiting (Keyless:Edge:MaxKeyCallsPerTenant); {Suppressed} more shed since the last such line")]
    private partial void LogShed(string tenant, int limit, long suppressed);
}
