using System.Collections.Concurrent;
using System.Globalization;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.KeyServer.Delegation;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// The parts of the tenant's access policy a security team changes while the key server runs: which edges may use
/// the keys, whether RSA decryption is allowed, the rate limits, and the delegated-credential policy (issuing on or
/// off, maximum validity, schemes, revocation file). When the configuration changes (a JSON file
/// given with --config, reloaded on save), the new policy applies to the next request; an invalid change is refused
/// with an error line and the running policy stays. The edge CA, the freshness window and the replay cache size are
/// read at start only (a change says "restart to apply"). Every applied or refused change is also a record in the
/// tenant's audit log (op <c>policy_change</c>, the policy in force afterwards — or the problems — as its detail).
/// </summary>
internal sealed partial class KeyAccessPolicy : IDisposable
{
    private const int MaxTrackedEdges = 10_000;

    private readonly KeyAccessOptions _started;
    private readonly KeyServerSettings _settings;
    private readonly TimeProvider _time;
    private readonly KeyServerMetrics _metrics;
    private readonly ILogger<KeyAccessPolicy> _logger;
    private readonly AuditLog? _audit;
    private readonly List<IDisposable> _subscriptions = [];
    private volatile Snapshot _current;
    private volatile DelegatedCredentialOptions _delegation;

    public KeyAccessPolicy(IOptions<KeyServerOptions> options, KeyServerSettings settings, IEnumerable<IOptionsChangeTokenSource<KeyServerOptions>> changes,
        TimeProvider time, KeyServerMetrics metrics, ILogger<KeyAccessPolicy> logger, AuditLog? audit = null)
    {
        _audit = audit;
        _started = options.Value.Access;
        _delegation = options.Value.DelegatedCredentials;
        _settings = settings;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _current = new Snapshot(_started, time);
        foreach (var source in changes) _subscriptions.Add(ChangeToken.OnChange(source.GetChangeToken, () => _ = ReloadSoonAsync()));
    }

    /// <summary>How long after a change signal the settings are read: editors write a file in more than one step.</summary>
    public static readonly TimeSpan ReloadDelay = TimeSpan.FromMilliseconds(300);

    private readonly Lock _reloading = new();

    private async Task ReloadSoonAsync()
    {
        await Task.Delay(ReloadDelay);
        lock (_reloading) Reload(); // one at a time; each reads the file as it is then
    }

    /// <summary>The policy for the request at hand.</summary>
    public Snapshot Current => _current;

    /// <summary>The delegated-credential policy for the next issuance (credentials already issued run to their expiry).</summary>
    public DelegatedCredentialOptions Delegation => _delegation;

    /// <summary>Reads the configuration again and applies its access and delegation policy, or keeps the running ones if any part is invalid.</summary>
    public void Reload()
    {
        try
        {
            var settings = _settings.Read();
            var (fresh, delegation) = (settings.Access, settings.DelegatedCredentials);
            var problems = (new KeyAccessOptionsValidator().Validate(null, fresh).Failures ?? [])
                .Concat(new DelegatedCredentialOptionsValidator().Validate(null, delegation).Failures ?? []).ToList();
            if (problems.Count > 0)
            {
                Refuse(string.Join("; ", problems)); // all or nothing: half a policy change is a policy nobody wrote
                return;
            }
            if (fresh.EdgeCa != _started.EdgeCa || fresh.FreshnessWindow != _started.FreshnessWindow || fresh.ReplayCacheSize != _started.ReplayCacheSize)
                LogRestartNeeded();
            var (accessChanged, delegationChanged) = (!_current.Matches(fresh), !delegation.SameAs(_delegation));
            if (!accessChanged && !delegationChanged) return; // another setting changed
            _metrics.PolicyChange("applied");
            _audit?.RecordEventAsync(PolicyChangeOperation, "Applied", Describe(fresh, delegation));
            if (accessChanged)
            {
                _current = new Snapshot(fresh, _time);
                LogReloaded(fresh.DescribeAllowedEdges(), fresh.AllowRsaDecryption, fresh.PerEdgeRate, fresh.TenantRate);
            }
            if (delegationChanged)
            {
                _delegation = delegation;
                LogDelegationReloaded(delegation.Describe());
            }
        }
        catch (Exception e)
        {
            Refuse($"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>The audit log's operation name for an access or delegation policy change.</summary>
    public const string PolicyChangeOperation = "policy_change";

    private static string Describe(KeyAccessOptions access, DelegatedCredentialOptions delegation) => string.Create(CultureInfo.InvariantCulture,
        $"allowed edges: {access.DescribeAllowedEdges()}; RSA decryption allowed: {access.AllowRsaDecryption}; " +
        $"rate limits {access.PerEdgeRate}/s per edge (burst {access.PerEdgeBurst}), {access.TenantRate}/s in all (burst {access.TenantBurst}); " +
        $"delegated credentials: {delegation.Describe()}");

    private void Refuse(string problems)
    {
        _audit?.RecordEventAsync(PolicyChangeOperation, "Refused", problems);
        _metrics.PolicyChange("refused");
        LogRefused(problems);
    }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions) subscription.Dispose();
    }

    /// <summary>One version of the policy, with its own rate buckets (a change of rates starts them afresh).</summary>
    public sealed class Snapshot(KeyAccessOptions options, TimeProvider time)
    {
        private readonly HashSet<string> _allowedEdges = new(options.AllowedEdges, StringComparer.Ordinal);
        private readonly TokenBucket _tenant = new(options.TenantRate, options.TenantBurst, time);
        private readonly ConcurrentDictionary<string, TokenBucket> _edges = new(StringComparer.Ordinal);

        public bool AllowRsaDecryption { get; } = options.AllowRsaDecryption;

        public double PerEdgeRate { get; } = options.PerEdgeRate;

        public double TenantRate { get; } = options.TenantRate;

        /// <summary>Whether <paramref name="edge"/> may use the keys (an empty list allows every certified edge).</summary>
        public bool Allows(string edge) => _allowedEdges.Count == 0 || _allowedEdges.Contains(edge);

        public bool TryTakeTenant() => _tenant.TryTake();

        public bool TryTakeEdge(string edge)
        {
            // Unauthenticated edge ids are caller-chosen: bound how many buckets they can make.
            if (_edges.Count >= MaxTrackedEdges && !_edges.ContainsKey(edge)) _edges.Clear();
            return _edges.GetOrAdd(edge, _ => new TokenBucket(options.PerEdgeRate, options.PerEdgeBurst, time)).TryTake();
        }

        internal bool Matches(KeyAccessOptions other) =>
            _allowedEdges.SetEquals(other.AllowedEdges) && AllowRsaDecryption == other.AllowRsaDecryption
            && options.PerEdgeRate == other.PerEdgeRate && options.PerEdgeBurst == other.PerEdgeBurst
            && options.TenantRate == other.TenantRate && options.TenantBurst == other.TenantBurst;
    }

    [LoggerMessage(EventId = EventIds.AccessPolicyReloaded, Level = LogLevel.Information, Message = "Access policy reloaded: allowed edges: {AllowedEdges}; RSA decryption allowed: {AllowRsaDecryption}; rate limits {PerEdgeRate}/s per edge, {TenantRate}/s in all")]
    private partial void LogReloaded(string allowedEdges, bool allowRsaDecryption, double perEdgeRate, double tenantRate);

    [LoggerMessage(EventId = EventIds.DelegationPolicyReloaded, Level = LogLevel.Information, Message = "Delegated-credential policy reloaded: {Policy}")]
    private partial void LogDelegationReloaded(string policy);

    [LoggerMessage(EventId = EventIds.AccessPolicyChangeRefused, Level = LogLevel.Error, Message = "Access policy change refused, the running policy stays: {Problems}")]
    private partial void LogRefused(string problems);

    [LoggerMessage(EventId = EventIds.AccessPolicyRestartNeeded, Level = LogLevel.Warning, Message = "Keyless:KeyServer:Access:EdgeCa, FreshnessWindow and ReplayCacheSize are read at start only: restart the key server to apply their change")]
    private partial void LogRestartNeeded();
}
