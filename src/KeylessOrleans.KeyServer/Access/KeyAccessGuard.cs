using System.Collections.Concurrent;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// Everything a key request must pass before any key is touched, cheapest first: the tenant's rate, the edge's
/// proof of identity, the tenant's edge allow-list and operations, the edge's rate, the host name the key may
/// serve, and freshness (no replay).
/// </summary>
public sealed class KeyAccessGuard(
    KeyAccessOptions options,
    EdgeAuthenticator authenticator,
    HostNameBinding hostNames,
    HandshakeFreshness freshness,
    TimeProvider time)
{
    private const int MaxTrackedEdges = 10_000;

    private readonly TokenBucket _tenant = new(options.TenantRate, options.TenantBurst, time);
    private readonly ConcurrentDictionary<string, TokenBucket> _edges = new(StringComparer.Ordinal);

    /// <summary>The decision on one request: the edge that asked (authenticated when proofs are on) and the refusal, if any.</summary>
    public readonly record struct Decision(string Edge, bool Authenticated, KeyOperationResult? Refusal, string Reason);

    public Decision Check(KeyGrainKey target, IKeyOperationRequest request)
    {
        var claimed = request.Context.EdgeId;
        if (!_tenant.TryTake())
            return Refuse(claimed, false, KeyOperationStatus.RateLimited, "tenant_rate", $"tenant rate limit ({options.TenantRate:0}/s) reached");

        var edge = claimed;
        if (authenticator.IsEnabled)
        {
            var (name, problem) = authenticator.Authenticate(target, request);
            if (name is null) return Refuse(claimed, false, KeyOperationStatus.Unauthorized, "edge_proof", problem!);
            edge = name;
        }
        var authenticated = authenticator.IsEnabled;
        if (options.AllowedEdges.Count > 0 && !options.AllowedEdges.Contains(edge, StringComparer.Ordinal))
            return Refuse(edge, authenticated, KeyOperationStatus.Unauthorized, "edge_not_allowed", $"edge {edge} is not among this tenant's allowed edges");
        if (request is DecryptPremasterRequest && !options.AllowRsaDecryption)
            return Refuse(edge, authenticated, KeyOperationStatus.Unauthorized, "operation_not_allowed", "this tenant does not allow RSA key exchange (premaster decryption)");
        if (!EdgeBucket(edge).TryTake())
            return Refuse(edge, authenticated, KeyOperationStatus.RateLimited, "edge_rate", $"edge {edge} rate limit ({options.PerEdgeRate:0}/s) reached");
        if (hostNames.Check(target.KeyId, request.Context.ServerName) is { } unbound)
            return new Decision(edge, authenticated, unbound, "host_name");
        if (freshness.Check(request) is { } stale)
            return new Decision(edge, authenticated, stale, stale.Status == KeyOperationStatus.RateLimited ? "replay_cache_full" : "freshness");
        return new Decision(edge, authenticated, null, "ok");
    }

    /// <summary>
    /// Opening an edge session checks a certificate and a signature before it knows who asks: it takes from the
    /// tenant's rate like a key request, so a flood of session requests costs no more than one of key requests.
    /// </summary>
    public bool AdmitSessionOpen() => _tenant.TryTake();

    private TokenBucket EdgeBucket(string edge)
    {
        // Unauthenticated edge ids are caller-chosen: bound how many buckets they can make.
        if (_edges.Count >= MaxTrackedEdges && !_edges.ContainsKey(edge)) _edges.Clear();
        return _edges.GetOrAdd(edge, _ => new TokenBucket(options.PerEdgeRate, options.PerEdgeBurst, time));
    }

    private static Decision Refuse(string edge, bool authenticated, KeyOperationStatus status, string reason, string detail) =>
        new(edge, authenticated, KeyOperationResult.Failure(status, detail), reason);
}
