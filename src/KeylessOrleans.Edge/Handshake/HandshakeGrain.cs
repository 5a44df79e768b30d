using System.Diagnostics;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace KeylessOrleans.Edge.Handshake;

/// <inheritdoc cref="IHandshakeGrain"/>
[StatelessWorker]
public sealed class HandshakeGrain(KeyServerClient keys, ReplicaHealth health, IOptions<EdgeOptions> options) : Grain, IHandshakeGrain
{
    private static int _spread;

    public Task<KeyOperationResult> SignCertificateVerifyAsync(KeyCall call, SignatureScheme scheme, byte[] signedContent) =>
        WithFailoverAsync(call, (replica, timeout) =>
            keys.SignCertificateVerifyAsync(replica, new SignCertificateVerifyRequest(Context(call), scheme, signedContent), timeout));

    public Task<KeyOperationResult> SignServerKeyExchangeAsync(KeyCall call, SignatureScheme scheme, byte[] signedParams) =>
        WithFailoverAsync(call, (replica, timeout) =>
            keys.SignServerKeyExchangeAsync(replica, new SignServerKeyExchangeRequest(Context(call), scheme, signedParams), timeout));

    public Task<KeyOperationResult> DecryptPremasterAsync(KeyCall call, byte[] encryptedPremaster, ushort clientVersion) =>
        WithFailoverAsync(call, (replica, timeout) =>
            keys.DecryptPremasterAsync(replica, new DecryptPremasterRequest(Context(call), encryptedPremaster, clientVersion), timeout));

    private KeyRequestContext Context(KeyCall call) => keys.Context(call.Tenant, call.KeyId, call.ServerName, call.ClientAddress);

    /// <summary>
    /// Tries the healthiest replica; when it is unavailable and another exists, tries one more. Both attempts
    /// share the overall <see cref="EdgeOptions.KeyCallTimeout"/>, so failover never makes a handshake wait longer.
    /// </summary>
    private async Task<KeyOperationResult> WithFailoverAsync(KeyCall call, Func<string, TimeSpan, Task<KeyOperationResult>> attempt)
    {
        if (call.Replicas.Count == 0)
            return KeyOperationResult.Failure(KeyOperationStatus.Unavailable, $"tenant {call.Tenant} has no registered key server for key {call.KeyId}");

        var budget = options.Value.KeyCallTimeout;
        var started = Stopwatch.GetTimestamp();
        var order = health.Order(call.Tenant, call.Replicas, Interlocked.Increment(ref _spread));
        var attempts = Math.Min(2, order.Count);
        KeyOperationResult result = null!;
        for (var i = 0; i < attempts; i++)
        {
            var remaining = budget - Stopwatch.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero) break;
            var timeout = i == attempts - 1 ? remaining : remaining / (attempts - i);
            result = await attempt(order[i], timeout);
            if (result.Status != KeyOperationStatus.Unavailable)
            {
                health.Succeeded(call.Tenant, order[i]);
                return result;
            }
            health.Failed(call.Tenant, order[i]);
        }
        return result ?? KeyOperationResult.Failure(KeyOperationStatus.Unavailable, "deadline spent before any attempt");
    }
}
