using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.KeyAccess;

/// <summary>
/// Proves every key request with this edge's cluster certificate key, so tenants' key servers know which edge asks
/// (<see cref="EdgeProof"/>): by an ECDSA signature, or — once a session with that tenant replica is open — by an
/// HMAC with the session key (one signature per session instead of one per request). Without a certificate
/// (single-machine demo) requests go unsigned, and key servers that require proofs refuse them.
/// </summary>
internal sealed class EdgeProofSigner : IDisposable
{
    /// <summary>A session this close to its end is replaced by a new one (requests keep using it meanwhile).</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(5);

    /// <summary>After a session could not be opened because the replica was unreachable, the next try waits this long.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(30);

    /// <summary>After the key server refused a session (say, it does not authenticate edges at all), the next try waits this long.</summary>
    public static readonly TimeSpan RetryAfterRefusal = TimeSpan.FromMinutes(10);

    private readonly byte[]? _certificate;
    private readonly ECDsa? _key;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<(string Tenant, string Replica), ReplicaSessions> _sessions = new();

    public EdgeProofSigner(IOptions<EdgeOptions> options, TimeProvider time)
    {
        _time = time;
        var o = options.Value;
        if (string.IsNullOrWhiteSpace(o.IdentityCertificate)) return;
        using var certificate = X509Certificate2.CreateFromPemFile(o.IdentityCertificate, o.IdentityKey);
        _key = certificate.GetECDsaPrivateKey()
            ?? throw new InvalidOperationException($"Keyless:Edge:IdentityKey '{o.IdentityKey}' is not an ECDSA key (cluster certificates are P-256)");
        _certificate = certificate.RawData;
    }

    public bool IsEnabled => _key is not null;

    /// <summary>The proof for <paramref name="request"/> sent to <paramref name="target"/>, or null when this edge has no identity.</summary>
    public EdgeProof? Sign(KeyGrainKey target, KeyRequest request)
    {
        if (_key is null) return null;
        var now = _time.GetUtcNow();
        var time = now.ToUnixTimeMilliseconds();
        var nonce = RandomNumberGenerator.GetBytes(16);
        var content = EdgeProofContent.Build(target, request, time, nonce);
        if (_sessions.TryGetValue((target.Tenant, target.Replica), out var replica) && replica.Current is { } session && session.Expires > now)
            return new EdgeProof([], time, nonce, EdgeSessionCrypto.Mac(session.Key, content), session.Id);
        return new EdgeProof(_certificate!, time, nonce, _key.SignData(content, HashAlgorithmName.SHA256));
    }

    /// <summary>
    /// Whether to open a session with the replica now (there is none, or it ends soon, and no attempt is under way or
    /// failed recently); true claims the attempt, which must end in <see cref="Opened"/> or <see cref="OpenFailed"/>.
    /// </summary>
    public bool TryClaimOpening(string tenant, string replica)
    {
        if (_key is null) return false;
        var state = _sessions.GetOrAdd((tenant, replica), static _ => new ReplicaSessions());
        var now = _time.GetUtcNow();
        if (state.Current is { } current && current.Expires - now > RenewBefore) return false; // the common case: no lock
        lock (state)
        {
            if (state.Opening || now < state.NextAttempt) return false;
            if (state.Current is { } again && again.Expires - now > RenewBefore) return false;
            state.Opening = true;
            return true;
        }
    }

    /// <summary>A signed request for a new session with the replica, and the ephemeral key to finish it with.</summary>
    public (EdgeSessionRequest Request, ECDiffieHellman Ephemeral) NewSessionRequest(string tenant, string replica)
    {
        var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var publicKey = ephemeral.ExportSubjectPublicKeyInfo();
        var time = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var nonce = RandomNumberGenerator.GetBytes(16);
        var signature = _key!.SignData(EdgeSessionCrypto.OpenContent(tenant, replica, time, nonce, publicKey), HashAlgorithmName.SHA256);
        return (new EdgeSessionRequest(_certificate!, time, nonce, publicKey, signature), ephemeral);
    }

    /// <summary>Derives the session key from the key server's answer and uses the session from now on.</summary>
    /// <returns>Why the grant is unusable, or null.</returns>
    public string? Opened(string tenant, string replica, EdgeSessionRequest request, ECDiffieHellman ephemeral, EdgeSessionGrant grant)
    {
        if (grant is not { Problem: null, SessionId.Length: EdgeSessionCrypto.SessionIdLength, KeyServerPublicKey: { } theirs })
        {
            OpenFailed(tenant, replica, RetryAfterRefusal);
            return grant.Problem ?? "the key server's session grant is malformed";
        }
        byte[] secret;
        try
        {
            using var keyServerKey = ECDiffieHellman.Create();
            keyServerKey.ImportSubjectPublicKeyInfo(theirs, out _);
            secret = ephemeral.DeriveRawSecretAgreement(keyServerKey.PublicKey);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            OpenFailed(tenant, replica, RetryAfterRefusal);
            return "the key server's session key is not a P-256 public key";
        }
        var session = new Session(grant.SessionId, EdgeSessionCrypto.SessionKey(secret, grant.SessionId, request.EdgePublicKey, theirs),
            DateTimeOffset.FromUnixTimeMilliseconds(grant.ExpiresUnixTimeMilliseconds));
        var state = _sessions.GetOrAdd((tenant, replica), static _ => new ReplicaSessions());
        lock (state)
        {
            state.Current = session;
            state.Opening = false;
        }
        return null;
    }

    /// <summary>The attempt failed: requests keep their signatures, and the next attempt waits (<see cref="RetryAfter"/> by default).</summary>
    public void OpenFailed(string tenant, string replica, TimeSpan? retryAfter = null)
    {
        var state = _sessions.GetOrAdd((tenant, replica), static _ => new ReplicaSessions());
        lock (state)
        {
            state.Opening = false;
            state.NextAttempt = _time.GetUtcNow() + (retryAfter ?? RetryAfter);
        }
    }

    /// <summary>The key server no longer knows session <paramref name="sessionId"/> (it restarted): back to signatures.</summary>
    public void Forget(string tenant, string replica, byte[] sessionId)
    {
        if (!_sessions.TryGetValue((tenant, replica), out var state)) return;
        lock (state)
        {
            if (state.Current is { } current && current.Id.AsSpan().SequenceEqual(sessionId)) state.Current = null;
        }
    }

    public void Dispose() => _key?.Dispose();

    private sealed record Session(byte[] Id, byte[] Key, DateTimeOffset Expires);

    private sealed class ReplicaSessions
    {
        public volatile Session? Current;
        public bool Opening;
        public DateTimeOffset NextAttempt = DateTimeOffset.MinValue;
    }
}
