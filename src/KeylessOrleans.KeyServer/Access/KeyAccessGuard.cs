using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// Everything a key request must pass before any key is touched: the edge's proof of identity first, then the
/// tenant's edge allow-list and operations, the edge's rate and the tenant's rate, the host name the key may serve,
/// and freshness (no replay). Rates are taken only from authenticated edges: a request with a forged proof is refused
/// before it takes anything, so forged requests cannot use up the tenant's rate and lock the real edges out.
/// </summary>
internal sealed class KeyAccessGuard(
    KeyAccessPolicy policies,
    EdgeAuthenticator authenticator,
    HostNameBinding hostNames,
    HandshakeFreshness freshness)
{

    /// <summary>The decision on one request: the edge that asked (authenticated when proofs are on) and the refusal, if any.</summary>
    public readonly record struct Decision(string Edge, bool Authenticated, KeyOperationResult? Refusal, string Reason);

    public Decision Check(KeyGrainKey target, KeyRequest request)
    {
        var policy = policies.Current;
        var edge = request.Context.EdgeId;
        if (authenticator.IsEnabled)
        {
            var (name, problem) = authenticator.Authenticate(target, request);
            if (name is null) return Refuse(edge, false, KeyOperationStatus.Unauthorized, "edge_proof", problem!);
            edge = name;
        }
        var authenticated = authenticator.IsEnabled;
        if (!policy.Allows(edge))
            return Refuse(edge, authenticated, KeyOperationStatus.Unauthorized, "edge_not_allowed", $"edge {edge} is not among this tenant's allowed edges");
        if (request is DeriveMasterSecretRequest && !policy.AllowRsaDecryption)
            return Refuse(edge, authenticated, KeyOperationStatus.Unauthorized, "operation_not_allowed", "this tenant does not allow RSA key exchange");
        if (TakeRates(policy, edge) is { } limited)
            return Refuse(edge, authenticated, KeyOperationStatus.RateLimited, limited.Reason, limited.Detail);
        if (hostNames.Check(target.KeyId, request.Context.ServerName) is { } unbound)
            return new Decision(edge, authenticated, unbound, "host_name");
        if (freshness.Check(request) is { } stale)
            return new Decision(edge, authenticated, stale, stale.Status == KeyOperationStatus.RateLimited ? "replay_cache_full" : "freshness");
        return new Decision(edge, authenticated, null, "ok");
    }

    /// <summary>Whether the tenant's allow-list names <paramref name="edge"/> (an empty list allows every certified edge).</summary>
    public bool Allows(string edge) => policies.Current.Allows(edge);

    /// <summary>
    /// Opening an edge session, after the edge's certificate and signature were checked: takes from the edge's and the
    /// tenant's rate like a key request. Returns the metric reason and the refusal, or null when admitted.
    /// </summary>
    public (string Reason, string Detail)? AdmitSessionOpen(string edge) => TakeRates(policies.Current, edge);

    /// <summary>
    /// The edge's rate first: an edge over its own limit must not spend the tenant's tokens, which all edges share.
    /// </summary>
    private static (string Reason, string Detail)? TakeRates(KeyAccessPolicy.Snapshot policy, string edge)
    {
        if (!policy.TryTakeEdge(edge)) return ("edge_rate", $"edge {edge} rate limit ({policy.PerEdgeRate:0}/s) reached");
        if (!policy.TryTakeTenant()) return ("tenant_rate", $"tenant rate limit ({policy.TenantRate:0}/s) reached");
        return null;
    }

    private static Decision Refuse(string edge, bool authenticated, KeyOperationStatus status, string reason, string detail) =>
        new(edge, authenticated, KeyOperationResult.Failure(status, detail), reason);
}
