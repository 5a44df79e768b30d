using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// Everything a key request must pass before any key is touched, cheapest first: the tenant's rate, the edge's
/// proof of identity, the tenant's edge allow-list and operations, the edge's rate, the host name the key may
/// serve, and freshness (no replay).
/// </summary>
public sealed class KeyAccessGuard(
    KeyAccessPolicy policies,
    EdgeAuthenticator authenticator,
    HostNameBinding hostNames,
    HandshakeFreshness freshness)
{

    /// <summary>The decision on one request: the edge that asked (authenticated when proofs are on) and the refusal, if any.</summary>
    public readonly record struct Decision(string Edge, bool Authenticated, KeyOperationResult? Refusal, string Reason);

    public Decision Check(KeyGrainKey target, IKeyOperationRequest request)
    {
        var policy = policies.Current;
        var claimed = request.Context.EdgeId;
        if (!policy.TryTakeTenant())
            return Refuse(claimed, false, KeyOperationStatus.RateLimited, "tenant_rate", $"tenant rate limit ({policy.TenantRate:0}/s) reached");

        var edge = claimed;
        if (authenticator.IsEnabled)
        {
            var (name, problem) = authenticator.Authenticate(target, request);
            if (name is null) return Refuse(claimed, false, KeyOperationStatus.Unauthorized, "edge_proof", problem!);
            edge = name;
        }
        var authenticated = authenticator.IsEnabled;
        if (!policy.Allows(edge))
            return Refuse(edge, authenticated, KeyOperationStatus.Unauthorized, "edge_not_allowed", $"edge {edge} is not among this tenant's allowed edges");
        if (request is DecryptPremasterRequest && !policy.AllowRsaDecryption)
            return Refuse(edge, authenticated, KeyOperationStatus.Unauthorized, "operation_not_allowed", "this tenant does not allow RSA key exchange (premaster decryption)");
        if (!policy.TryTakeEdge(edge))
            return Refuse(edge, authenticated, KeyOperationStatus.RateLimited, "edge_rate", $"edge {edge} rate limit ({policy.PerEdgeRate:0}/s) reached");
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
    public bool AdmitSessionOpen() => policies.Current.TryTakeTenant();

    private static Decision Refuse(string edge, bool authenticated, KeyOperationStatus status, string reason, string detail) =>
        new(edge, authenticated, KeyOperationResult.Failure(status, detail), reason);
}
