using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// Who sent a key request, from its <see cref="EdgeProof"/>: a certificate the cluster CA issued to an edge, and
/// that certificate's key signing this very request, recently, once. Certificates are checked once and then
/// remembered by their hash (until they expire); signatures are checked every time. An edge may instead prove a
/// request with the HMAC of an edge session it opened by such a signature (<see cref="OpenSession"/>).
/// </summary>
internal sealed class EdgeAuthenticator : IDisposable
{
    private const int CachedCertificates = 4096;
    private const int MaxSessions = 4096;

    /// <summary>
    /// Live sessions one edge may hold with this replica. An edge needs one (two while it renews, a few more across its
    /// restarts); beyond this its own oldest goes, so one edge opening sessions in a loop cannot fill the table.
    /// </summary>
    public const int MaxSessionsPerEdge = 8;
    private const string NistP256Oid = "1.2.840.10045.3.1.7";

    /// <summary>How long a session lasts (at most until the edge's certificate expires); edges open the next one before.</summary>
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(1);

    private readonly X509Certificate2? _authority;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, CertifiedEdge> _certified = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, EdgeSession> _sessions = new(StringComparer.Ordinal);
    private readonly Lock _remembering = new();

    /// <summary>Nonces of session requests still inside the freshness window, so a replayed one opens nothing.</summary>
    private readonly ConcurrentDictionary<string, DateTimeOffset> _sessionNonces = new(StringComparer.Ordinal);

    /// <summary>Nonces of verified edge proofs, for as long as their time would be accepted: a proof works once.</summary>
    private readonly ReplayCache _proofNonces;

    public EdgeAuthenticator(KeyAccessOptions options, TimeProvider time)
    {
        _window = options.FreshnessWindow;
        _time = time;
        _proofNonces = new ReplayCache(2 * _window, options.ReplayCacheSize, time);
        if (!string.IsNullOrWhiteSpace(options.EdgeCa)) _authority = X509CertificateLoader.LoadCertificateFromFile(options.EdgeCa);
    }

    /// <summary>False in the single-machine demo: no CA, so no way to tell edges apart.</summary>
    public bool IsEnabled => _authority is not null;

    /// <summary>
    /// The edge's name, or why the proof does not hold. A proof's nonce is remembered once the proof verifies (so
    /// forged proofs cannot fill the cache): the same proof again, e.g. a captured request resent, is refused.
    /// </summary>
    public (string? Edge, string? Problem) Authenticate(KeyGrainKey target, KeyRequest request)
    {
        if (request.Proof is not { } proof) return (null, "the request carries no edge proof");
        if (Stale(proof.UnixTimeMilliseconds, "edge proof") is { } stale) return (null, stale);
        if (proof.Nonce.Length != 16) return (null, "the edge proof's nonce is not 16 bytes");
        var (edge, problem) = proof.Session is { } sessionId
            ? AuthenticateBySession(target, request, proof, sessionId)
            : AuthenticateBySignature(target, request, proof);
        if (edge is null) return (null, problem);
        return _proofNonces.TryAdd(SHA256.HashData([.. Encoding.UTF8.GetBytes(edge), .. proof.Nonce])) switch
        {
            ReplayCache.Outcome.New => (edge, null),
            ReplayCache.Outcome.Replayed => (null, $"edge {edge}'s proof was replayed (its nonce was already used)"),
            _ => (null, "the proof-nonce cache is full: too many requests in the freshness window"),
        };
    }

    private (string? Edge, string? Problem) AuthenticateBySignature(KeyGrainKey target, KeyRequest request, EdgeProof proof)
    {
        var edge = Certify(proof.Certificate);
        if (edge.Problem is not null) return (null, edge.Problem);
        var content = EdgeProofContent.Build(target, request, proof.UnixTimeMilliseconds, proof.Nonce);
        if (!edge.Key!.VerifyData(content, proof.Signature, HashAlgorithmName.SHA256))
            return (null, $"the signature of edge {edge.Name} does not match the request");
        return (edge.Name, null);
    }

    private (string? Edge, string? Problem) AuthenticateBySession(KeyGrainKey target, KeyRequest request, EdgeProof proof, byte[] sessionId)
    {
        if (!_sessions.TryGetValue(Convert.ToHexString(sessionId), out var session) || session.Expires <= _time.GetUtcNow())
            return (null, EdgeSessionCrypto.UnknownSession);
        if (session.Tenant != target.Tenant || session.Replica != target.Replica)
            return (null, $"edge {session.Edge}'s session is for {session.Tenant}/{session.Replica}, not this key server");
        var mac = EdgeSessionCrypto.Mac(session.Key, EdgeProofContent.Build(target, request, proof.UnixTimeMilliseconds, proof.Nonce));
        if (!CryptographicOperations.FixedTimeEquals(mac, proof.Signature))
            return (null, $"the session MAC of edge {session.Edge} does not match the request");
        return (session.Edge, null);
    }

    /// <summary>
    /// Opens a session for the edge whose certificate signed <paramref name="request"/>, with this tenant replica:
    /// an ephemeral P-256 key of ours against the edge's, the session key derived on both sides and never sent.
    /// </summary>
    /// <param name="admit">
    /// Asked once the edge is authenticated (certificate, signature, fresh nonce) and before any key is made: the
    /// refusal (e.g. over a rate limit), or null to open the session. Unauthenticated requests never reach it.
    /// </param>
    /// <returns>The grant (or refusal) and, when the certificate held, the edge's name.</returns>
    public (EdgeSessionGrant Grant, string? Edge) OpenSession(string tenant, string replica, EdgeSessionRequest request, Func<string, string?> admit)
    {
        if (Stale(request.UnixTimeMilliseconds, "session request") is { } stale) return (EdgeSessionGrant.Refused(stale), null);
        if (request.Nonce.Length != 16) return (EdgeSessionGrant.Refused("the session request's nonce is not 16 bytes"), null);
        var edge = Certify(request.Certificate);
        if (edge.Problem is not null) return (EdgeSessionGrant.Refused(edge.Problem), null);
        var content = EdgeSessionCrypto.OpenContent(tenant, replica, request.UnixTimeMilliseconds, request.Nonce, request.EdgePublicKey);
        if (!edge.Key!.VerifyData(content, request.Signature, HashAlgorithmName.SHA256))
            return (EdgeSessionGrant.Refused($"the signature of edge {edge.Name} does not match the session request"), edge.Name);
        if (!FirstUseOf(request.Nonce))
            return (EdgeSessionGrant.Refused($"edge {edge.Name}'s session request was replayed"), edge.Name);
        if (admit(edge.Name!) is { } refusal) return (EdgeSessionGrant.Refused(refusal), edge.Name);

        using var edgeKey = ECDiffieHellman.Create();
        try
        {
            edgeKey.ImportSubjectPublicKeyInfo(request.EdgePublicKey, out var read);
            if (read != request.EdgePublicKey.Length || edgeKey.ExportParameters(false).Curve.Oid.Value != NistP256Oid)
                return (EdgeSessionGrant.Refused("the session key is not a P-256 public key"), edge.Name);
        }
        catch (CryptographicException)
        {
            return (EdgeSessionGrant.Refused("the session key is not a P-256 public key"), edge.Name);
        }
        using var ours = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var ourPublicKey = ours.ExportSubjectPublicKeyInfo();
        var id = RandomNumberGenerator.GetBytes(EdgeSessionCrypto.SessionIdLength);
        var key = EdgeSessionCrypto.SessionKey(ours.DeriveRawSecretAgreement(edgeKey.PublicKey), id, request.EdgePublicKey, ourPublicKey);
        var now = _time.GetUtcNow();
        var expires = now + SessionLifetime < edge.NotAfter ? now + SessionLifetime : edge.NotAfter;
        if (Remember(new EdgeSession(Convert.ToHexString(id), edge.Name!, tenant, replica, key, expires), now) is { } full)
            return (EdgeSessionGrant.Refused(full), edge.Name);
        return (new EdgeSessionGrant(id, ourPublicKey, expires.ToUnixTimeMilliseconds(), null), edge.Name);
    }

    /// <summary>Open sessions (expired ones linger until the table fills up).</summary>
    public int Sessions => _sessions.Count;

    /// <summary>Sessions of one edge in the table.</summary>
    public int SessionsOf(string edge) => _sessions.Values.Count(s => s.Edge == edge);

    /// <summary>
    /// True the first time a (signature-checked) nonce is seen within the window. A replay could not use the session
    /// it opened (that needs the edge's ephemeral private key), but would take a slot in the session table.
    /// </summary>
    private bool FirstUseOf(byte[] nonce)
    {
        var now = _time.GetUtcNow();
        if (_sessionNonces.Count >= MaxSessions)
            foreach (var (old, until) in _sessionNonces) if (until <= now) _sessionNonces.TryRemove(old, out _);
        if (_sessionNonces.Count >= MaxSessions) return false; // that many fresh session requests in one window: refuse more
        return _sessionNonces.TryAdd(Convert.ToHexString(nonce), now + 2 * _window);
    }

    /// <summary>
    /// Keeps <paramref name="session"/>: first the edge's own oldest go beyond <see cref="MaxSessionsPerEdge"/>, then
    /// expired sessions when the table is full. A table full of live sessions refuses the newcomer rather than evicting
    /// other edges' sessions (an edge without a session signs each request instead). Session opens are rare (one per
    /// edge, replica and hour; rate-limited), so scanning the table here costs nothing that matters.
    /// </summary>
    /// <returns>Null when kept, else why not.</returns>
    private string? Remember(EdgeSession session, DateTimeOffset now)
    {
        lock (_remembering)
        {
            var own = _sessions.Values.Where(s => s.Edge == session.Edge).OrderBy(s => s.Expires).ToList();
            foreach (var old in own.Take(own.Count - MaxSessionsPerEdge + 1)) _sessions.TryRemove(old.Id, out _);
            if (_sessions.Count >= MaxSessions)
                foreach (var (id, old) in _sessions) if (old.Expires <= now) _sessions.TryRemove(id, out _);
            if (_sessions.Count >= MaxSessions) return $"this key server holds {MaxSessions} live edge sessions already; sign each request meanwhile";
            _sessions[session.Id] = session;
            return null;
        }
    }

    private string? Stale(long unixTimeMilliseconds, string what)
    {
        var skew = _time.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(unixTimeMilliseconds);
        return skew.Duration() > _window ? $"the {what}'s time is {skew.TotalSeconds:0.0} s off (window {_window.TotalSeconds:0} s)" : null;
    }

    private CertifiedEdge Certify(byte[] der)
    {
        var id = Convert.ToHexString(SHA256.HashData(der));
        if (_certified.TryGetValue(id, out var known) && known.NotAfter > _time.GetUtcNow()) return known;
        if (_certified.Count >= CachedCertificates) _certified.Clear(); // a flood of certificates must not grow memory

        var checkedEdge = Check(der);
        _certified[id] = checkedEdge;
        return checkedEdge;
    }

    private CertifiedEdge Check(byte[] der)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException)
        {
            return CertifiedEdge.Refused("the edge proof's certificate does not parse");
        }
        using (certificate)
        {
            if (ClusterCertificates.Problem(certificate, _authority!) is { } problem) return CertifiedEdge.Refused(problem);
            if (SiloIdentity.FromCertificate(certificate) is not { Role: SiloIdentity.EdgeRole } identity)
                return CertifiedEdge.Refused($"certificate '{certificate.Subject}' is not an edge's");
            var key = certificate.GetECDsaPublicKey();
            if (key is null) return CertifiedEdge.Refused($"certificate '{certificate.Subject}' has no ECDSA key");
            return new CertifiedEdge(identity.Name, key, null, certificate.NotAfter.ToUniversalTime());
        }
    }

    public void Dispose()
    {
        _authority?.Dispose();
        foreach (var edge in _certified.Values) edge.Key?.Dispose();
    }

    private sealed record EdgeSession(string Id, string Edge, string Tenant, string Replica, byte[] Key, DateTimeOffset Expires);

    private sealed record CertifiedEdge(string? Name, ECDsa? Key, string? Problem, DateTimeOffset NotAfter)
    {
        /// <summary>Refusals are remembered briefly too, so a bad certificate repeated does not cost a chain build each time.</summary>
        public static CertifiedEdge Refused(string problem) => new(null, null, problem, DateTimeOffset.UtcNow.AddMinutes(1));
    }
}
