using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// The tenant's policy for who may use its keys and how often (configuration section "Keyless:KeyServer:Access").
/// </summary>
public sealed class KeyAccessOptions
{
    /// <summary>
    /// The operator's edge CA (PEM). When set, every key request must carry a proof signed with the key of an
    /// edge certificate this CA issued (keyless://edge/NAME), and in the tenant's own cluster with mutual TLS only
    /// such edges may connect to the gateway (required there). In a shared cluster the keyserver command fills it
    /// from Keyless:Cluster:TlsCa. Unset: edges are not authenticated (single-machine demo only; a warning says so).
    /// </summary>
    public string? EdgeCa { get; set; }

    /// <summary>Edge names (keyless://edge/NAME) allowed to use this tenant's keys; empty: every edge the CA certified.</summary>
    public List<string> AllowedEdges { get; set; } = [];

    /// <summary>TLS 1.2 RSA key exchange (premaster decryption) for this tenant's keys; off makes the keys sign only.</summary>
    public bool AllowRsaDecryption { get; set; } = true;

    /// <summary>
    /// How far the time in an edge proof or a TLS 1.2 server_random may be from this server's clock. Also how long
    /// seen requests are remembered, to refuse replays.
    /// </summary>
    public TimeSpan FreshnessWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Key operations per second one edge may ask for (token bucket refill), and its burst. The default is above
    /// what one edge's handshakes need (a 2-core key server signs ~40,000 ECDSA/s through Orleans); a tenant that
    /// knows its traffic sets it lower, so a compromised edge cannot use the key as a fast oracle.
    /// </summary>
    public double PerEdgeRate { get; set; } = 50_000;

    public int PerEdgeBurst { get; set; } = 100_000;

    /// <summary>Key operations per second for all edges together, and the burst.</summary>
    public double TenantRate { get; set; } = 200_000;

    public int TenantBurst { get; set; } = 400_000;

    /// <summary>
    /// Requests remembered to refuse replays, per generation of the replay caches (handshakes, and edge proof nonces:
    /// one cache each, two generations each). A handshake is remembered for twice the window plus 2 s, a proof nonce
    /// for twice the window: as long as either would be accepted. When full, further requests are refused (rate
    /// limited) rather than served unchecked. 2 M entries (about 70 MB per generation) cover ~32,000 operations a
    /// second sustained with the 30 s window; raise it, or shorten the window, beyond.
    /// </summary>
    public int ReplayCacheSize { get; set; } = 2_000_000;

    /// <summary>The allow-list as the log shows it to the tenant's security team.</summary>
    public string DescribeAllowedEdges() => AllowedEdges.Count == 0 ? "any edge the CA certified" : string.Join(", ", AllowedEdges);
}

/// <summary>Refuses an access policy, at start or when changed while running, each problem named by its configuration key.</summary>
internal sealed class KeyAccessOptionsValidator : IValidateOptions<KeyAccessOptions>
{
    public ValidateOptionsResult Validate(string? name, KeyAccessOptions o)
    {
        var failures = new List<string>();
        if (!string.IsNullOrWhiteSpace(o.EdgeCa) && !File.Exists(o.EdgeCa))
            failures.Add($"Keyless:KeyServer:Access:EdgeCa '{o.EdgeCa}' is not an existing file");
        if (o.AllowedEdges.Count > 0 && string.IsNullOrWhiteSpace(o.EdgeCa))
            failures.Add("Keyless:KeyServer:Access:AllowedEdges needs EdgeCa (the cluster CA): without it edges cannot be told apart");
        if (o.FreshnessWindow < TimeSpan.FromSeconds(1) || o.FreshnessWindow > TimeSpan.FromMinutes(10))
            failures.Add($"Keyless:KeyServer:Access:FreshnessWindow {o.FreshnessWindow} must be 1 s–10 min");
        if (o.PerEdgeRate <= 0 || o.TenantRate <= 0 || o.PerEdgeBurst < 1 || o.TenantBurst < 1)
            failures.Add("Keyless:KeyServer:Access rates and bursts must be positive");
        if (o.ReplayCacheSize < 1000)
            failures.Add("Keyless:KeyServer:Access:ReplayCacheSize must be at least 1000");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
