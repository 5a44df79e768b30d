using System.Net;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Hosting;

/// <summary>Settings of an edge silo (configuration section "Keyless:Edge"), grouped by concern.</summary>
public sealed class EdgeOptions
{
    /// <summary>This edge's id, sent with every key request for the tenant's audit trail.</summary>
    public string EdgeId { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>
    /// Single-organization mode: edges and key servers belong to one organization and share one Orleans cluster, so
    /// on-prem silos are members (they may connect to the silo port, and register their own tenant's replicas).
    /// Off (the default): the operator's cluster admits edges on its silo port and edges and operator tools on its
    /// gateway, and refuses every on-prem identity; every tenant's key servers form a cluster of their own, which
    /// edges reach as clients (<see cref="KeyAccess.TenantClusterClients"/>).
    /// </summary>
    public bool SharedCluster { get; set; }

    /// <summary>
    /// This edge's cluster certificate (PEM), issued by the operator's CA for keyless://edge/EdgeId. Every key
    /// request is signed with its key, and tenants' key servers authorize edges by it. The edge command fills it
    /// from Keyless:Cluster:TlsCertificate. Unset: requests go unsigned (single-machine demo).
    /// </summary>
    public string? IdentityCertificate { get; set; }

    /// <summary>The private key of <see cref="IdentityCertificate"/> (PEM); from Keyless:Cluster:TlsKey by default.</summary>
    public string? IdentityKey { get; set; }

    /// <summary>Where the HTTPS listener binds (section "Keyless:Edge:Listener").</summary>
    public EdgeListenerOptions Listener { get; set; } = new();

    /// <summary>What the edge's TLS handshakes offer (section "Keyless:Edge:Tls").</summary>
    public EdgeTlsOptions Tls { get; set; } = new();

    /// <summary>Bulkheads and timeouts of client connections (section "Keyless:Edge:Limits", docs/reliability.md).</summary>
    public EdgeLimitsOptions Limits { get; set; } = new();

    /// <summary>Private-key operations sent to tenants' key servers (section "Keyless:Edge:KeyCalls").</summary>
    public EdgeKeyCallOptions KeyCalls { get; set; } = new();

    /// <summary>The edge's part in the operator's cluster: registry and chain polling, status reports, call proofs (section "Keyless:Edge:ControlPlane").</summary>
    public EdgeControlPlaneOptions ControlPlane { get; set; } = new();

    /// <summary>TLS 1.2 session resumption by id and by ticket (section "Keyless:Edge:Resumption").</summary>
    public EdgeResumptionOptions Resumption { get; set; } = new();

    /// <summary>OCSP stapling (section "Keyless:Edge:Stapling").</summary>
    public EdgeStaplingOptions Stapling { get; set; } = new();

    /// <summary>RFC 9345 delegated credentials the edge serves (section "Keyless:Edge:DelegatedCredentials").</summary>
    public EdgeDelegatedCredentialOptions DelegatedCredentials { get; set; } = new();

    /// <summary>The failed-handshake log's throttle (section "Keyless:Edge:FailedHandshakeLog").</summary>
    public FailedHandshakeLogOptions FailedHandshakeLog { get; set; } = new();

    /// <summary>Handshakes the edge makes with itself before it reports ready (section "Keyless:Edge:WarmUp").</summary>
    public EdgeWarmUpOptions WarmUp { get; set; } = new();
}

/// <summary>Where the HTTPS listener binds (section "Keyless:Edge:Listener").</summary>
public sealed class EdgeListenerOptions
{
    /// <summary>Address the HTTPS listener binds; loopback by default.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>HTTPS port; 0 picks a free port (tests), null turns the listener off.</summary>
    public int? HttpsPort { get; set; } = 8443;
}

/// <summary>What the edge's TLS handshakes offer (section "Keyless:Edge:Tls").</summary>
public sealed class EdgeTlsOptions
{
    /// <summary>Host name used for clients that send no SNI; null answers them with unrecognized_name.</summary>
    public string? DefaultHostName { get; set; }

    /// <summary>
    /// TLS 1.3 key-agreement groups, comma-separated, most preferred first. A group the client already sent a key
    /// share for always wins over one it did not (no HelloRetryRequest while a share is usable); among those, this
    /// order decides. Post-quantum hybrids (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024) are TLS 1.3
    /// only; TLS 1.2 always uses x25519, secp256r1, secp384r1 and ffdhe2048–4096. A hybrid costs the edge more CPU
    /// and ~2.3 KB more on the wire per handshake than x25519 (docs/key-agreement.md); the key server's work is the same.
    /// </summary>
    public string Tls13Groups { get; set; } = Tls.KeyShareGroups.DefaultTls13;
}

/// <summary>Bulkheads and timeouts of client connections (section "Keyless:Edge:Limits", docs/reliability.md).</summary>
public sealed class EdgeLimitsOptions
{
    /// <summary>
    /// Dedicated threads that run handshake steps. The key callback blocks its thread for one key-server round
    /// trip, so size this as handshakes per second × key-call latency, with headroom.
    /// </summary>
    public int HandshakeThreads { get; set; } = 128;

    /// <summary>Handshake steps that may wait for a thread; when full, new connections are refused at once.</summary>
    public int HandshakeQueueLength { get; set; } = 512;

    /// <summary>Time from accept to a finished handshake.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection with no traffic either way for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Open client connections at most; beyond, new ones are closed at accept.</summary>
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>
    /// Open client connections from one IP address at most; beyond, its new ones are closed at accept. Keeps one
    /// misbehaving client from holding every connection slot; many real users behind one NAT stay well below it.
    /// </summary>
    public int MaxConnectionsPerClientAddress { get; set; } = 256;

    /// <summary>How long to wait for a TCP connection to the origin.</summary>
    public TimeSpan OriginConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Private-key operations sent to tenants' key servers (section "Keyless:Edge:KeyCalls").</summary>
public sealed class EdgeKeyCallOptions
{
    /// <summary>
    /// How long a handshake's key operation may take in all (failover included) before the handshake fails with
    /// internal_error. Far below Orleans' 30 s response timeout: a client gets an alert, not a hang.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// When a tenant has several key-server replicas and the first one asked has not answered after this long,
    /// the next one is asked as well (the first answer wins). A few times a healthy replica's round trip:
    /// high enough that healthy calls rarely go twice, low enough that a dead replica costs little.
    /// </summary>
    public TimeSpan FailoverAfter { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Key calls one tenant may have in flight on this edge; beyond, its handshakes fail at once with
    /// internal_error. Each in-flight call holds a handshake thread, so this keeps one slow or dead key server
    /// from holding all of <see cref="EdgeLimitsOptions.HandshakeThreads"/>.
    /// </summary>
    public int MaxPerTenant { get; set; } = 32;

    /// <summary>How long a connection attempt to a tenant's key-server gateways may take before it counts as failed.</summary>
    public TimeSpan TenantConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A tenant's client unused this long is closed (the next call opens it again).</summary>
    public TimeSpan TenantClientIdleTimeout { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>The edge's part in the operator's cluster: registry and chain polling, status reports, call proofs (section "Keyless:Edge:ControlPlane").</summary>
public sealed class EdgeControlPlaneOptions
{
    /// <summary>How often the edge reads the registry's change feed (new tenants, changed settings, rotated certificates).</summary>
    public TimeSpan RegistryPollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the edge asks each of a tenant's key-server replicas whether its certificate chains changed.</summary>
    public TimeSpan ChainPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often this edge sends its last minute of handshake counts for <c>keyless status</c>.</summary>
    public TimeSpan StatusReportInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How far a control-plane call's proof (<see cref="KeylessOrleans.Cluster.Security.CallProof"/>) may be from
    /// this edge's clock, either way. Also how long its nonce is remembered (twice this), so keep it short.
    /// </summary>
    public TimeSpan CallProofWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Call proofs remembered against replay within the window; beyond, calls are refused until it rolls over.</summary>
    public int CallProofReplayCacheSize { get; set; } = 200_000;
}

/// <summary>TLS 1.2 session resumption by id and by ticket (section "Keyless:Edge:Resumption").</summary>
public sealed class EdgeResumptionOptions
{
    /// <summary>TLS 1.2 sessions kept for session-ID resumption (resumed handshakes need no key operation).</summary>
    public int CacheSize { get; set; } = 20_000;

    /// <summary>
    /// How long a TLS 1.2 session may be resumed, by id on this edge or by ticket on any edge of the fleet. It also
    /// bounds how long the fleet can keep serving a tenant's clients without the tenant's key server, e.g. after the
    /// tenant revoked an edge.
    /// </summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// TLS 1.2 session tickets (RFC 5077) sealed with keys the whole edge fleet shares, so a client resumes on any
    /// edge; off: session ids only, which resume only on the edge that made the session.
    /// </summary>
    public bool Tickets { get; set; } = true;

    /// <summary>How often the fleet's ticket key is replaced (old keys still open tickets for <see cref="Lifetime"/>).</summary>
    public TimeSpan TicketKeyRotation { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often an edge fetches the ticket keys; a new key seals only once it is this old.</summary>
    public TimeSpan TicketKeyRefresh { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>OCSP stapling (section "Keyless:Edge:Stapling").</summary>
public sealed class EdgeStaplingOptions
{
    /// <summary>
    /// Staple OCSP responses (TLS 1.2 CertificateStatus, TLS 1.3 status_request in the certificate entry) to clients
    /// that ask, fetched from the responder each certificate names. The edge then makes HTTP requests to the URLs in
    /// tenants' certificates: switch this off where edges must not reach such addresses.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Private or reserved networks (CIDR, e.g. <c>10.20.0.0/16</c>) where OCSP responders may be reached. By default
    /// only public addresses are: the responder URL comes from a tenant's certificate, and must not let a tenant aim
    /// the edge at the operator's own network.
    /// </summary>
    public List<string> ResponderPrivateNetworks { get; set; } = [];

    /// <summary>How long one OCSP request may take.</summary>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>After a failed or refused OCSP fetch, how long until the next try (the last good staple stays in use meanwhile).</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The longest time between two fetches for a certificate (otherwise halfway to the response's nextUpdate).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>RFC 9345 delegated credentials the edge serves (section "Keyless:Edge:DelegatedCredentials").</summary>
public sealed class EdgeDelegatedCredentialOptions
{
    /// <summary>
    /// Serve RFC 9345 delegated credentials to TLS 1.3 clients that accept them, for certificates with DelegationUsage:
    /// the edge signs those handshakes with a key of its own that the tenant's key server certified for a while.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The validity the edge asks for (tenants cap it; RFC 9345 at 7 days). Credentials are renewed halfway.</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>The edge's delegated key: EcdsaSecp256r1Sha256 (what browsers and NSS accept) or Ed25519.</summary>
    public SignatureScheme Scheme { get; set; } = SignatureScheme.EcdsaSecp256r1Sha256;

    /// <summary>After a refused or failed issuance, how long until the edge asks again for that host name.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>The failed-handshake log's throttle (section "Keyless:Edge:FailedHandshakeLog").</summary>
public sealed class FailedHandshakeLogOptions
{
    /// <summary>
    /// Failed handshakes alike (same reason, tenant and client network: IPv4 /24, IPv6 /64) logged in full per
    /// <see cref="Window"/>; the rest get one summary line per window with their exact count.
    /// </summary>
    public int FirstInFull { get; set; } = 5;

    /// <summary>The window of the failed-handshake log: summaries are written at its end.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Distinct (reason, tenant, client network) kept per window; failures of any further one are logged together.
    /// With <see cref="FirstInFull"/> it bounds the lines per window, whatever the rate of failures:
    /// (this + 1) × (first in full + 1).
    /// </summary>
    public int MaxKeys { get; set; } = 100;
}

/// <summary>
/// Handshakes the edge makes with itself before it reports ready (section "Keyless:Edge:WarmUp"): TLS 1.3 and 1.2,
/// ECDSA and RSA, full and resumed, through its own TLS stack against a throwaway key made in memory, so the first
/// clients after /readyz do not pay for the just-in-time compilation of the handshake path. No tenant, key server,
/// metric or handshake log sees them.
/// </summary>
public sealed class EdgeWarmUpOptions
{
    /// <summary>Warm up before reporting ready; off, the edge is ready as soon as it can serve.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The warm-up ends when a round of every kind of handshake compiled fewer than <see cref="SettledMethods"/>
    /// methods, or after this long, whichever comes first: readiness waits for it.
    /// </summary>
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Rounds of half a second (every kind of handshake at least once per connection) run at least, however few methods
    /// they compile: tiered compilation promotes a method only after 30 calls and 100 ms without new methods.
    /// </summary>
    public int MinRounds { get; set; } = 4;

    /// <summary>A round that compiled fewer methods than this (the whole process's count) ends the warm-up.</summary>
    public int SettledMethods { get; set; } = 50;

    /// <summary>Clients handshaking at once, so the handshake threads and the connection path run concurrently as under load.</summary>
    public int Connections { get; set; } = 4;

    /// <summary>
    /// Host names whose tenants' key servers the warm-up then asks for possession proofs, through the path a handshake's
    /// key call takes (<see cref="WarmUp.KeyCallWarmUp"/>), so that path is compiled before the first client; empty:
    /// the default host name (Keyless:Edge:Tls:DefaultHostName), if there is one. The calls are real key operations,
    /// audited by the tenant as prove_possession from this edge.
    /// </summary>
    public List<string> HostNames { get; set; } = [];

    /// <summary>Possession proofs the warm-up asks for in all, spread over the keys of <see cref="HostNames"/>; 0: none.</summary>
    public int KeyCalls { get; set; } = 60;
}

/// <summary>Refuses an edge's settings at start, each problem named by its configuration key.</summary>
internal sealed class EdgeOptionsValidator : IValidateOptions<EdgeOptions>
{
    private const string Section = "Keyless:Edge";

    public ValidateOptionsResult Validate(string? name, EdgeOptions o)
    {
        var failures = new List<string>();
        void Require(bool ok, string message) { if (!ok) failures.Add(message); }

        Require(!string.IsNullOrWhiteSpace(o.EdgeId), $"{Section}:EdgeId must not be empty");
        Require(string.IsNullOrWhiteSpace(o.IdentityCertificate) == string.IsNullOrWhiteSpace(o.IdentityKey),
            $"{Section}:IdentityCertificate and IdentityKey go together");
        foreach (var (setting, path) in new[] { ("IdentityCertificate", o.IdentityCertificate), ("IdentityKey", o.IdentityKey) })
            Require(string.IsNullOrWhiteSpace(path) || File.Exists(path), $"{Section}:{setting} '{path}' is not an existing file");

        const string listener = $"{Section}:Listener";
        Require(IPAddress.TryParse(o.Listener.ListenAddress, out _), $"{listener}:ListenAddress '{o.Listener.ListenAddress}' is not an IP address");
        Require(o.Listener.HttpsPort is null or (>= 0 and <= 65535), $"{listener}:HttpsPort {o.Listener.HttpsPort} is out of range");

        const string tls = $"{Section}:Tls";
        Tls.KeyShareGroups.Parse(o.Tls.Tls13Groups, out var groupErrors);
        foreach (var error in groupErrors) failures.Add($"{tls}:Tls13Groups: {error}");

        const string limits = $"{Section}:Limits";
        var l = o.Limits;
        Require(l.HandshakeThreads is >= 1 and <= 4096, $"{limits}:HandshakeThreads {l.HandshakeThreads} must be 1–4096");
        Require(l.HandshakeQueueLength >= 1, $"{limits}:HandshakeQueueLength must be at least 1");
        Require(l.HandshakeTimeout > TimeSpan.Zero, $"{limits}:HandshakeTimeout must be positive");
        Require(l.IdleTimeout > TimeSpan.Zero, $"{limits}:IdleTimeout must be positive");
        Require(l.MaxConnections >= 1, $"{limits}:MaxConnections must be at least 1");
        Require(l.MaxConnectionsPerClientAddress >= 1, $"{limits}:MaxConnectionsPerClientAddress must be at least 1");
        Require(l.OriginConnectTimeout > TimeSpan.Zero, $"{limits}:OriginConnectTimeout must be positive");

        const string keyCalls = $"{Section}:KeyCalls";
        var k = o.KeyCalls;
        Require(k.Timeout > TimeSpan.Zero && k.Timeout <= TimeSpan.FromSeconds(30), $"{keyCalls}:Timeout {k.Timeout} must be above zero and at most 30 s");
        Require(k.FailoverAfter > TimeSpan.Zero && k.FailoverAfter < k.Timeout, $"{keyCalls}:FailoverAfter {k.FailoverAfter} must be above zero and below {keyCalls}:Timeout ({k.Timeout})");
        Require(k.MaxPerTenant >= 1 && k.MaxPerTenant <= l.HandshakeThreads, $"{keyCalls}:MaxPerTenant {k.MaxPerTenant} must be 1–{limits}:HandshakeThreads ({l.HandshakeThreads})");
        Require(k.TenantConnectTimeout > TimeSpan.Zero && k.TenantConnectTimeout <= TimeSpan.FromMinutes(1), $"{keyCalls}:TenantConnectTimeout must be above zero and at most 1 min");
        Require(k.TenantClientIdleTimeout >= TimeSpan.FromSeconds(1), $"{keyCalls}:TenantClientIdleTimeout must be at least 1 s");

        const string controlPlane = $"{Section}:ControlPlane";
        var c = o.ControlPlane;
        Require(c.RegistryPollInterval > TimeSpan.Zero, $"{controlPlane}:RegistryPollInterval must be positive");
        Require(c.ChainPollInterval >= TimeSpan.FromMilliseconds(100), $"{controlPlane}:ChainPollInterval must be at least 100 ms");
        Require(c.StatusReportInterval > TimeSpan.Zero, $"{controlPlane}:StatusReportInterval must be positive");
        Require(c.CallProofWindow >= TimeSpan.FromSeconds(5) && c.CallProofWindow <= TimeSpan.FromMinutes(10), $"{controlPlane}:CallProofWindow {c.CallProofWindow} must be 5 s–10 min");
        Require(c.CallProofReplayCacheSize >= 1000, $"{controlPlane}:CallProofReplayCacheSize must be at least 1000");

        const string resumption = $"{Section}:Resumption";
        var r = o.Resumption;
        Require(r.CacheSize >= 0, $"{resumption}:CacheSize must not be negative");
        Require(r.Lifetime >= TimeSpan.Zero, $"{resumption}:Lifetime must not be negative");
        Require(r.TicketKeyRefresh > TimeSpan.Zero && r.TicketKeyRefresh * 2 <= r.TicketKeyRotation,
            $"{resumption}:TicketKeyRefresh must be positive and at most half of {resumption}:TicketKeyRotation");

        const string stapling = $"{Section}:Stapling";
        var s = o.Stapling;
        Require(s.FetchTimeout > TimeSpan.Zero && s.FetchTimeout <= TimeSpan.FromMinutes(1), $"{stapling}:FetchTimeout must be above zero and at most 1 min");
        Require(s.RetryInterval >= TimeSpan.FromSeconds(1), $"{stapling}:RetryInterval must be at least 1 s");
        foreach (var network in s.ResponderPrivateNetworks)
            Require(IPNetwork.TryParse(network, out _), $"{stapling}:ResponderPrivateNetworks '{network}' is not a network in CIDR notation");
        Require(s.RefreshInterval >= TimeSpan.FromSeconds(1), $"{stapling}:RefreshInterval must be at least 1 s");

        const string delegation = $"{Section}:DelegatedCredentials";
        var d = o.DelegatedCredentials;
        Require(d.Lifetime >= TimeSpan.FromMinutes(5) && d.Lifetime <= DelegatedCredential.MaxValidity,
            $"{delegation}:Lifetime {d.Lifetime} must be 5 min–7 days (RFC 9345)");
        Require(d.Scheme is SignatureScheme.EcdsaSecp256r1Sha256 or SignatureScheme.Ed25519,
            $"{delegation}:Scheme must be EcdsaSecp256r1Sha256 or Ed25519");
        Require(d.RetryInterval >= TimeSpan.FromSeconds(1), $"{delegation}:RetryInterval must be at least 1 s");

        const string failedLog = $"{Section}:FailedHandshakeLog";
        var f = o.FailedHandshakeLog;
        Require(f.FirstInFull is >= 0 and <= 1000, $"{failedLog}:FirstInFull must be 0–1000");
        Require(f.Window >= TimeSpan.FromSeconds(1) && f.Window <= TimeSpan.FromHours(1), $"{failedLog}:Window must be 1 s–1 h");
        Require(f.MaxKeys is >= 0 and <= 100_000, $"{failedLog}:MaxKeys must be 0–100000");

        const string warmUp = $"{Section}:WarmUp";
        var w = o.WarmUp;
        Require(w.MaxDuration > TimeSpan.Zero && w.MaxDuration <= TimeSpan.FromMinutes(5), $"{warmUp}:MaxDuration {w.MaxDuration} must be above zero and at most 5 min");
        Require(w.MinRounds is >= 1 and <= 10_000, $"{warmUp}:MinRounds must be 1–10000");
        Require(w.SettledMethods >= 0, $"{warmUp}:SettledMethods must not be negative");
        Require(w.Connections >= 1 && w.Connections <= l.HandshakeThreads, $"{warmUp}:Connections {w.Connections} must be 1–{limits}:HandshakeThreads ({l.HandshakeThreads})");
        Require(w.KeyCalls is >= 0 and <= 10_000, $"{warmUp}:KeyCalls must be 0–10000");
        Require(w.HostNames.All(n => !string.IsNullOrWhiteSpace(n)), $"{warmUp}:HostNames must not hold an empty name");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
