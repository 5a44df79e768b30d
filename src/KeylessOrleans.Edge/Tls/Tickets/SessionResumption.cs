using System.Security.Cryptography;
using KeylessOrleans.Edge.Routing;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls.Tickets;

/// <summary>
/// TLS 1.2 resumption, which needs no key operation at all (BouncyCastle has no TLS 1.3 resumption): by session id
/// from this edge's <see cref="TlsSessionCache"/>, or by a session ticket (RFC 5077) sealed with the fleet's keys, so
/// the client can resume on any edge. A session resumes only for the name it was made for and only while its
/// certificate is still served for that name: after a rotation (hot reload on the key server) the client gets a
/// full handshake and the new certificate, not the old one for the session's life.
/// </summary>
internal static class SessionResumption
{
    /// <summary>The cached session, if its certificate is still served for the name; otherwise null (a full handshake).</summary>
    public static TlsSession? IfStillServed(TlsSession session, EdgeRoute? route)
    {
        if (session.ExportSessionParameters()?.LocalCertificate is not { IsEmpty: false } served || route is null) return session;
        var leaf = served.GetCertificateAt(0).GetEncoded();
        var keys = route.Keys.Keys;
        for (var i = 0; i < keys.Count; i++)
        {
            if (keys[i].ChainDer.Count > 0 && keys[i].ChainDer[0].AsSpan().SequenceEqual(leaf)) return session;
        }
        return null;
    }

    /// <summary>
    /// The session in the client's ticket, if this fleet sealed it, it has not expired, it was made for this name,
    /// its suite is offered again, its leaf certificate is still served here, and its ALPN protocol is offered again.
    /// RFC 5077 §3.4: the client sends a session id with its ticket; echoing it tells the client it resumed.
    /// </summary>
    /// <param name="clientTicket">The client's session_ticket extension: null when absent, empty when it holds no ticket.</param>
    public static TlsSession? FromTicket(
        TlsServerContext shared, EdgeRoute? route, byte[] sessionId, byte[]? clientTicket, string? serverName, int[]? offeredCipherSuites,
        IList<ProtocolName>? clientProtocols)
    {
        if (clientTicket is not { Length: > 0 } || sessionId.Length == 0 || route is null || shared.Tickets?.Redeem(clientTicket) is not { } content)
            return null;
        try
        {
            if (!string.Equals(content.ServerName, serverName, StringComparison.Ordinal)) return null;
            if (offeredCipherSuites is null || Array.IndexOf(offeredCipherSuites, content.CipherSuite) < 0) return null;
            if (content.ApplicationProtocol is { } protocol && !Offers(clientProtocols, protocol)) return null;
            if (ServedChain(shared.Chains, route, content.LeafSha256) is not { } served) return null;
            var extensions = new Dictionary<int, byte[]>();
            if (content.ApplicationProtocol is { } alpn) TlsExtensionsUtilities.AddAlpnExtensionServer(extensions, ProtocolName.AsUtf8Encoding(alpn));
            return TlsUtilities.ImportSession(sessionId, new SessionParameters.Builder()
                .SetCipherSuite(content.CipherSuite)
                .SetExtendedMasterSecret(content.ExtendedMasterSecret)
                .SetLocalCertificate(served.Tls12)
                .SetMasterSecret(shared.Crypto.CreateSecret(content.MasterSecret))
                .SetNegotiatedVersion(ProtocolVersion.TLSv12)
                .SetServerExtensions(extensions)
                .Build());
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content.MasterSecret);
        }
    }

    /// <summary>
    /// RFC 5077 §3.3: the session sealed with the fleet's ticket key, so the client can resume it on any edge; null
    /// when there is nothing to seal it with (the caller then sends an empty ticket, which the RFC allows).
    /// </summary>
    public static NewSessionTicket? NewTicket(TlsServerContext shared, SecurityParameters parameters, string? serverName, ServerChain? served)
    {
        if (shared.Tickets is not { } tickets || serverName is null || parameters.MasterSecret is not { } master || served is null) return null;
        var secret = shared.Crypto.AdoptSecret(master).Extract(); // a copy: the connection keeps its own
        try
        {
            var session = new SessionTicketContent(default, parameters.CipherSuite, parameters.IsExtendedMasterSecret, secret, serverName,
                served.Sha256, parameters.ApplicationProtocol?.GetUtf8Decoding());
            return tickets.Issue(session) is { } ticket ? new NewSessionTicket((long)tickets.Lifetime.TotalSeconds, ticket) : null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    private static bool Offers(IList<ProtocolName>? clientProtocols, string protocol)
    {
        if (clientProtocols is null) return false;
        for (var i = 0; i < clientProtocols.Count; i++)
        {
            if (clientProtocols[i].GetUtf8Decoding() == protocol) return true;
        }
        return false;
    }

    /// <summary>The chain of the name's keys whose leaf has this hash; null when it is no longer served.</summary>
    private static ServerChain? ServedChain(ServerChainCache chains, EdgeRoute route, byte[] leafSha256)
    {
        var keys = route.Keys.Keys;
        for (var i = 0; i < keys.Count; i++)
        {
            var chain = chains.For(keys[i]);
            if (chain.Sha256.AsSpan().SequenceEqual(leafSha256)) return chain;
        }
        return null;
    }
}
