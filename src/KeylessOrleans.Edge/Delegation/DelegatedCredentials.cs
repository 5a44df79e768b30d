using KeylessOrleans.Edge.Caching;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Delegation;

/// <summary>A delegated credential this edge holds: the encoded DelegatedCredential, its key, and when it lapses.</summary>
/// <param name="Algorithm">How the certificate's key signed the credential; the client must accept it in signature_algorithms.</param>
internal sealed record IssuedCredential(byte[] Encoded, SignatureScheme Algorithm, DelegatedKey Key, DateTimeOffset Expiry, DateTimeOffset RenewAt);

/// <summary>
/// RFC 9345 delegated credentials per certificate (a credential is bound to the certificate, not to the name the
/// client asked for: keyed by name, every random name under a wildcard would cost an issuance): made on first demand (the first handshake from a
/// client that accepts them only starts the request and goes the keyless way), renewed halfway through their life,
/// asked for again no sooner than <see cref="EdgeDelegatedCredentialOptions.RetryInterval"/> after a refusal. No
/// handshake ever waits for an issuance. While a credential is current, TLS 1.3 clients that accept it are served
/// without any call to the tenant's key server.
/// </summary>
internal sealed partial class DelegatedCredentials(
    IKeyOperationGateway gateway,
    IOptions<EdgeOptions> options,
    TimeProvider time,
    EdgeMetrics metrics,
    ILogger<DelegatedCredentials> logger)
{
    /// <summary>A credential is not served in its last minute: a client's clock a little ahead must not see it expired.</summary>
    private static readonly TimeSpan ExpiryMargin = TimeSpan.FromMinutes(1);

    private readonly LastUsedMap<(string Tenant, string Certificate), Entry> _entries = new(keepUnused: TimeSpan.FromDays(1), sweepEvery: TimeSpan.FromHours(1));

    /// <summary>
    /// The current credential for serving <paramref name="chain"/>, or null; starts an issuance when one is due
    /// (<paramref name="host"/>, the name this handshake asked for, goes into the key server's audit record).
    /// </summary>
    public IssuedCredential? Current(string tenant, KeyRoute key, ServerChain chain, string host)
    {
        var settings = options.Value;
        if (!settings.DelegatedCredentials.Enabled || !chain.AllowsDelegation) return null;
        var now = time.GetUtcNow();
        var entry = _entries.Use((tenant, chain.Sha256Hex), now);
        var current = entry.Credential;
        if ((current is null || now >= current.RenewAt) && now >= entry.RetryAt && Interlocked.CompareExchange(ref entry.Issuing, 1, 0) == 0)
            _ = Task.Run(() => IssueAsync(entry, tenant, key, chain, host)); // key generation and the call: off the handshake thread
        return current is not null && now < current.Expiry - ExpiryMargin ? current : null;
    }

    private async Task IssueAsync(Entry entry, string tenant, KeyRoute key, ServerChain chain, string host)
    {
        var settings = options.Value;
        try
        {
            var algorithm = (SignatureScheme)SignatureSelection.Preference(key.Algorithm, tls13: true)[0];
            var delegated = DelegatedKey.Create(settings.DelegatedCredentials.Scheme);
            var validity = (uint)settings.DelegatedCredentials.Lifetime.TotalSeconds;
            var signedAt = time.GetUtcNow().ToUnixTimeMilliseconds();
            var possession = delegated.Sign(DelegatedCredential.PossessionContent(chain.Sha256, delegated.Scheme, delegated.SubjectPublicKeyInfo, validity, signedAt));
            var request = new DelegateCredentialRequest(new KeyRequestContext(tenant, key.KeyId, host, null, settings.EdgeId),
                chain.Sha256, algorithm, delegated.Scheme, delegated.SubjectPublicKeyInfo, validity, PossessionTime: signedAt, PossessionSignature: possession);
            // The handshake grain verifies the answer (exactly this key and these schemes, signed by the certificate's key).
            var result = await gateway.PerformAsync(new KeyCall(key.Replicas, chain.ChainDer[0]), request);
            var now = time.GetUtcNow();
            if (!result.IsOk)
            {
                metrics.DelegatedCredentialIssued(tenant, "refused");
                entry.RetryAt = now + settings.DelegatedCredentials.RetryInterval;
                LogRefused(host, tenant, $"{result.Status}: {result.Detail}", settings.DelegatedCredentials.RetryInterval.TotalSeconds);
                return;
            }
            var parts = DelegatedCredential.Parse(result.Output!)!;
            var expiry = chain.NotBefore + TimeSpan.FromSeconds(parts.ValidTime);
            entry.Credential = new IssuedCredential(result.Output!, algorithm, delegated, expiry, now + (expiry - now) / 2);
            metrics.DelegatedCredentialIssued(tenant, "ok");
            LogIssued(host, tenant, delegated.Scheme, expiry);
        }
        catch (Exception e)
        {
            // Fire-and-forget: nothing may escape, and the keyless path serves meanwhile.
            metrics.DelegatedCredentialIssued(tenant, "failed");
            entry.RetryAt = time.GetUtcNow() + settings.DelegatedCredentials.RetryInterval;
            LogRefused(host, tenant, e.GetType().Name, settings.DelegatedCredentials.RetryInterval.TotalSeconds);
        }
        finally
        {
            Volatile.Write(ref entry.Issuing, 0);
        }
    }

    private sealed class Entry : LastUsedEntry
    {
        public volatile IssuedCredential? Credential;
        public DateTimeOffset RetryAt = DateTimeOffset.MinValue;
        public int Issuing;
    }

    [LoggerMessage(EventId = EventIds.DelegatedCredentialIssued, Level = LogLevel.Information, Message = "Delegated credential for {Host} (tenant {Tenant}) issued: {Scheme} key, valid until {Expiry:O}; TLS 1.3 clients that accept it need no key call now")]
    private partial void LogIssued(string host, string tenant, SignatureScheme scheme, DateTimeOffset expiry);

    [LoggerMessage(EventId = EventIds.DelegatedCredentialRefused, Level = LogLevel.Warning, Message = "No delegated credential for {Host} (tenant {Tenant}): {Problem}; keyless handshakes meanwhile, asking again in {RetrySeconds:0} s")]
    private partial void LogRefused(string host, string tenant, string problem, double retrySeconds);
}
