using KeylessOrleans.KeyServer.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>Says at start which access and delegation policy this key server enforces, so the tenant's security team can see it in the log.</summary>
internal sealed partial class AccessPolicyLog(KeyAccessOptions options, KeyAccessPolicy policies, ILogger<AccessPolicyLog> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.EdgeCa))
            LogUnauthenticated();
        else
            LogPolicy(options.EdgeCa, options.DescribeAllowedEdges());
        LogLimits(options.AllowRsaDecryption, options.PerEdgeRate, options.TenantRate, options.FreshnessWindow.TotalSeconds);
        LogDelegation(policies.Delegation.Describe());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = EventIds.EdgesUnauthenticated, Level = LogLevel.Warning, Message = "Edges are NOT authenticated (no Keyless:KeyServer:Access:EdgeCa): any cluster member can use these keys. Fine for a single-machine demo, not for production.")]
    private partial void LogUnauthenticated();

    [LoggerMessage(EventId = EventIds.AccessPolicyEdges, Level = LogLevel.Information, Message = "Edges must prove their identity with a certificate from {EdgeCa}; allowed: {AllowedEdges}")]
    private partial void LogPolicy(string edgeCa, string allowedEdges);

    [LoggerMessage(EventId = EventIds.AccessPolicyLimits, Level = LogLevel.Information, Message = "RSA decryption allowed: {AllowRsaDecryption}; rate limits {PerEdgeRate}/s per edge, {TenantRate}/s in all; freshness window {WindowSeconds} s")]
    private partial void LogLimits(bool allowRsaDecryption, double perEdgeRate, double tenantRate, double windowSeconds);

    [LoggerMessage(EventId = EventIds.DelegationPolicy, Level = LogLevel.Information, Message = "Delegated credentials: {Policy}")]
    private partial void LogDelegation(string policy);
}
