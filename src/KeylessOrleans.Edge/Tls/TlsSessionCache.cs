using System.Collections.Concurrent;
using System.Security.Cryptography;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// TLS 1.2 session-ID resumption: a resumed handshake needs no key operation at all. BouncyCastle provides the
/// hooks but no storage.
/// </summary>
/// <remarks>
/// BouncyCastle's copies of session parameters share the master secret object and destroy it when a
/// connection fails or declines to resume, so the cache keeps its own deep copy (secret re-made with
/// <c>AdoptSecret</c>) and hands out another deep copy on each lookup. A session resumes only for the same
/// server name it was made for (RFC 6066 §3): never across tenants. Eviction is first-in first-out with an
/// interlocked count: every full TLS 1.2 handshake stores a session, so a store must stay O(1)
/// (ConcurrentDictionary.Count takes every lock).
/// </remarks>
internal sealed class TlsSessionCache(TlsCrypto crypto, TimeSpan lifetime, int capacity, TimeProvider time)
{
    private sealed record Entry(SessionParameters Parameters, string ServerName, DateTimeOffset Expires);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public static byte[] NewSessionId() => RandomNumberGenerator.GetBytes(32);

    public void Store(TlsSession session, string serverName)
    {
        if (capacity == 0 || lifetime <= TimeSpan.Zero || !session.IsResumable) return;
        var exported = session.ExportSessionParameters();
        if (exported?.MasterSecret is not { } secret || !secret.IsAlive()) return;
        var key = Convert.ToHexString(session.SessionID);
        if (!_entries.TryAdd(key, new Entry(DeepCopy(exported), serverName, time.GetUtcNow() + lifetime))) return;
        _order.Enqueue(key);
        if (Interlocked.Increment(ref _count) > capacity) EvictOldest();
    }

    /// <param name="offeredCipherSuites">
    /// The ClientHello's suites: BouncyCastle fails with internal_error instead of a full handshake when the
    /// session's suite was not offered, so such a session is not returned.
    /// </param>
    public TlsSession? Find(byte[]? sessionId, int[]? offeredCipherSuites, string? serverName)
    {
        if (sessionId is not { Length: > 0 } || offeredCipherSuites is null || serverName is null) return null;
        if (!_entries.TryGetValue(Convert.ToHexString(sessionId), out var entry)) return null;
        if (entry.Expires < time.GetUtcNow()) return null; // evicted in turn
        if (!string.Equals(entry.ServerName, serverName, StringComparison.Ordinal)) return null;
        if (Array.IndexOf(offeredCipherSuites, entry.Parameters.CipherSuite) < 0) return null;
        return TlsUtilities.ImportSession(sessionId, DeepCopy(entry.Parameters));
    }

    private void EvictOldest()
    {
        while (Volatile.Read(ref _count) > capacity && _order.TryDequeue(out var key))
        {
            if (_entries.TryRemove(key, out var entry))
            {
                entry.Parameters.Clear(); // wipes our copy of the master secret
                Interlocked.Decrement(ref _count);
            }
        }
    }

    private SessionParameters DeepCopy(SessionParameters p) =>
        new SessionParameters.Builder()
            .SetCipherSuite(p.CipherSuite)
            .SetExtendedMasterSecret(p.IsExtendedMasterSecret)
            .SetLocalCertificate(p.LocalCertificate)
            .SetMasterSecret(crypto.AdoptSecret(p.MasterSecret))
            .SetNegotiatedVersion(p.NegotiatedVersion)
            .SetPeerCertificate(p.PeerCertificate)
            .SetServerExtensions(p.ReadServerExtensions())
            .Build();
}
