using System.Security.Cryptography;
using System.Text;
using KeylessOrleans.Edge.Delegation;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Stapling;
using KeylessOrleans.Edge.Tls.Tickets;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tls;

/// <summary>Shared, per-edge parts every connection's <see cref="KeylessTlsServer"/> uses.</summary>
public sealed record TlsServerContext(
    TlsCrypto Crypto,
    RouteTable Routes,
    ServerChainCache Chains,
    IKeyOperationGateway Keys,
    TlsSessionCache Sessions,
    string? DefaultHostName,
    string EdgeId)
{
    /// <summary>OCSP responses to staple; null: no stapling.</summary>
    public OcspStapler? Staples { get; init; }

    /// <summary>Delegated credentials to serve TLS 1.3 clients that accept them; null: always keyless.</summary>
    public DelegatedCredentials? Delegation { get; init; }

    /// <summary>The fleet's session-ticket keys (TLS 1.2 resumption on any edge); null: session ids only.</summary>
    public SessionTicketKeyRing? Tickets { get; init; }

    /// <summary>TLS 1.3 key-agreement groups in preference order (<see cref="KeyShareGroups"/>).</summary>
    public int[] Tls13Groups { get; init; } = KeyShareGroups.Parse(KeyShareGroups.DefaultTls13, out _);
}

/// <summary>
/// One connection's TLS server: TLS 1.3 and 1.2 with AEAD suites only, certificate chosen per SNI from the
/// registry and per what the client can verify, private-key operations sent to the tenant's key server.
/// </summary>
public sealed class KeylessTlsServer(TlsServerContext shared, string clientAddress, HandshakeFacts facts, HandshakeTranscript transcript)
    : DefaultTlsServer(shared.Crypto)
{
    // Order matters: the server's preference wins (PreferLocalCipherSuites). ECDHE, then finite-field DHE (slower,
    // but forward secret), then RSA key exchange.
    private static readonly int[] Suites =
    [
        CipherSuite.TLS_AES_128_GCM_SHA256,
        CipherSuite.TLS_AES_256_GCM_SHA384,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_RSA_WITH_AES_256_GCM_SHA384,
    ];

    private static readonly KeyAlgorithm[] Tls13Preference = [KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Ed25519, KeyAlgorithm.Rsa];

    /// <summary>
    /// The largest handshake message a client may send. This server never asks for a client certificate, so that
    /// message is the ClientHello: today's largest (a post-quantum hybrid key share, X25519MLKEM768, is 1,216 of a
    /// ~1.8 KB hello; several PQ shares plus padding stay under 6 KB) fits with room to spare. BouncyCastle keeps a
    /// message in memory until it is complete and checks this limit at its 4-byte header, so a client cannot make
    /// a connection buffer more than this plus one record (2^14 + 256 bytes; BouncyCastle refuses longer records
    /// with record_overflow). Over the limit it sends a fatal internal_error alert. Its default is 32 KiB.
    /// (BouncyCastle's other peer limit, GetMaxCertificateChainLength, only bounds client certificate chains.)
    /// </summary>
    public const int MaxHandshakeMessageSize = 16 * 1024;

    private EdgeRoute? _route;
    private ServerChain? _served;
    private int[]? _delegationSchemes; // the client's delegated_credential extension: it accepts credentials with these schemes
    private byte[]? _clientTicket; // the client's session_ticket extension: null when absent, empty when it holds no ticket
    private IList<ProtocolName>? _clientProtocols; // the client's ALPN list

    /// <summary>
    /// Whether the next handshake step may ask the key server (and so block its thread): until the ClientHello has
    /// been answered (full handshakes sign or, with RSA key exchange, decrypt later), and in a full handshake until
    /// that one key operation has happened (a TLS 1.3 HelloRetryRequest or a TLS 1.2 RSA key exchange still has it
    /// ahead). A resumed session never does; neither does a handshake signed with a delegated credential, nor the
    /// client's Finished and what follows.
    /// </summary>
    public bool MayCallKeyServer =>
        m_context.SecurityParameters is not { NegotiatedVersion: not null } negotiated
        || (!negotiated.IsResumedSession && facts.KeyCalls == 0 && !facts.Delegated);

    protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv13.DownTo(ProtocolVersion.TLSv12);

    protected override int[] GetSupportedCipherSuites() => TlsUtilities.GetSupportedCipherSuites(Crypto, Suites);

    protected override bool PreferLocalCipherSuites() => true;

    /// <summary>
    /// TLS 1.2 server_random starts with the time, so a key server can refuse to sign a ServerKeyExchange or decrypt
    /// a premaster for a handshake that is not happening now (replay of recorded requests). TLS 1.3 ignores this.
    /// </summary>
    public override bool ShouldUseGmtUnixTime() => true;

    public override int GetMaxHandshakeMessageSize() => MaxHandshakeMessageSize;

    /// <summary>
    /// TLS 1.2: the classical curves and RFC 7919 groups (hybrids are TLS 1.3 only; <see cref="SelectECDH"/> and
    /// <see cref="SelectDH"/> pick among these). TLS 1.3: a copy of the configured groups, which
    /// <see cref="OrderTls13Groups"/> reorders once the client's key shares are known.
    /// </summary>
    public override int[] GetSupportedGroups() => TlsUtilities.IsTlsV13(m_context) ? [.. shared.Tls13Groups] : [.. Curves, .. FiniteFieldGroups];

    /// <summary>
    /// Puts the configured groups the client sent a key share for first (<see cref="KeyShareGroups.OrderFor"/>), so
    /// the server's order (<see cref="PreferLocalSupportedGroups"/>) never costs a HelloRetryRequest while a share is
    /// usable, and checks the share that will be used. BouncyCastle asks <see cref="GetSupportedGroups"/> before it
    /// hands over the client's extensions and picks the key-share group from that same array afterwards, so the
    /// array is reordered in place.
    /// </summary>
    private void OrderTls13Groups(IDictionary<int, byte[]> clientExtensions)
    {
        if (m_context.SecurityParameters.ServerSupportedGroups is not { } groups) return;
        var shares = TlsExtensionsUtilities.GetKeyShareClientHello(clientExtensions);
        KeyShareGroups.OrderFor(groups, shares).CopyTo(groups, 0);
        var offered = m_context.SecurityParameters.ClientSupportedGroups;
        var selected = offered is null ? -1 : groups.FirstOrDefault(g => Array.IndexOf(offered, g) >= 0, -1);
        if (selected >= 0 && shares?.FirstOrDefault(s => s.NamedGroup == selected) is { } share)
        {
            facts.Group = KeyShareGroups.Name(selected);
            KeyShareGroups.CheckClientShare(share);
        }
    }

    /// <summary>The server's group order wins over the client's (see <see cref="GetSupportedGroups"/>).</summary>
    public override bool PreferLocalSupportedGroups() => true;

    private static readonly int[] Curves = KeyShareGroups.Curves;

    private static readonly int[] FiniteFieldGroups = KeyShareGroups.FiniteFieldGroups;

    /// <summary>
    /// TLS 1.2 ECDHE curve. BouncyCastle's default ignores <see cref="GetSupportedGroups"/> before TLS 1.3 and takes
    /// the client's first curve of any kind (secp521r1, x448, brainpool, binary curves), whose ServerKeyExchange the
    /// key server then refuses to sign: a client that merely prefers such a curve failed with internal_error. Pick
    /// the client's first curve that is also ours; without a supported_groups extension, BouncyCastle's default
    /// (secp256r1) stands.
    /// </summary>
    protected override int SelectECDH(int minimumCurveBits)
    {
        if (m_context.SecurityParameters.ClientSupportedGroups is not { } offered)
        {
            var fallback = base.SelectECDH(minimumCurveBits);
            return fallback >= 0 ? Chosen(fallback) : fallback;
        }
        foreach (var group in offered)
        {
            if (Array.IndexOf(Curves, group) >= 0 && NamedGroup.GetCurveBits(group) >= minimumCurveBits) return Chosen(group);
        }
        return -1;
    }

    /// <summary>Makes ECDHE suites selectable only when <see cref="SelectECDH"/> will find a curve.</summary>
    protected override int GetMaximumNegotiableCurveBits() =>
        m_context.SecurityParameters.ClientSupportedGroups is { } offered
            ? offered.Where(g => Array.IndexOf(Curves, g) >= 0).Select(NamedGroup.GetCurveBits).DefaultIfEmpty(0).Max()
            : base.GetMaximumNegotiableCurveBits();

    /// <summary>
    /// TLS 1.2 DHE group: the client's first RFC 7919 group that is also ours; a client that names no finite-field
    /// group gets ffdhe2048 (RFC 7919 §4 lets the server choose). BouncyCastle's default would take any named group
    /// up to ffdhe8192 and, for such a client, its own pick among all five.
    /// </summary>
    protected override int SelectDH(int minimumFiniteFieldBits)
    {
        var offered = m_context.SecurityParameters.ClientSupportedGroups;
        if (offered is null || !offered.Any(NamedGroup.IsFiniteField))
            return NamedGroup.GetFiniteFieldBits(NamedGroup.ffdhe2048) >= minimumFiniteFieldBits ? Chosen(NamedGroup.ffdhe2048) : -1;
        foreach (var group in offered)
        {
            if (Array.IndexOf(FiniteFieldGroups, group) >= 0 && NamedGroup.GetFiniteFieldBits(group) >= minimumFiniteFieldBits) return Chosen(group);
        }
        return -1;
    }

    /// <summary>Notes the TLS 1.2 key-exchange group (BouncyCastle records the negotiated group only for TLS 1.3).</summary>
    private int Chosen(int group)
    {
        facts.Group = KeyShareGroups.Name(group);
        return group;
    }

    /// <summary>Makes DHE suites selectable only when <see cref="SelectDH"/> will find a group.</summary>
    protected override int GetMaximumNegotiableFiniteFieldBits()
    {
        var offered = m_context.SecurityParameters.ClientSupportedGroups;
        if (offered is null || !offered.Any(NamedGroup.IsFiniteField)) return NamedGroup.GetFiniteFieldBits(NamedGroup.ffdhe2048);
        return offered.Where(g => Array.IndexOf(FiniteFieldGroups, g) >= 0).Select(NamedGroup.GetFiniteFieldBits).DefaultIfEmpty(0).Max();
    }

    protected override IList<ProtocolName> GetProtocolNames() =>
        _route?.Tenant.Origin.Http2 == true ? [ProtocolName.Http_2_Tls, ProtocolName.Http_1_1] : [ProtocolName.Http_1_1];

    /// <summary>
    /// SNI decides the tenant. BouncyCastle has filled ClientServerNames already and never rejects a name itself:
    /// an unknown name (or none, without a default host) ends here with unrecognized_name (112).
    /// The route must be known before the base call, which selects the ALPN protocol.
    /// </summary>
    public override void ProcessClientExtensions(IDictionary<int, byte[]> clientExtensions)
    {
        var sni = m_context.SecurityParameters.ClientServerNames?.FirstOrDefault(n => n.NameType == NameType.host_name)?.NameData;
        var requested = sni is null ? null : Encoding.ASCII.GetString(sni);
        if (sni is { Length: > ServerNames.MaxLength })
        {
            facts.ServerName = ServerNames.ForLog(requested!);
            throw new TlsFatalAlert(AlertDescription.unrecognized_name, $"the server name is longer than {ServerNames.MaxLength} bytes");
        }
        if (requested is not null && ServerNames.HasControlCharacters(requested))
        {
            facts.ServerName = ServerNames.ForLog(requested);
            throw new TlsFatalAlert(AlertDescription.unrecognized_name, "the server name holds control characters");
        }
        var hostName = requested ?? shared.DefaultHostName;
        facts.ServerName = hostName is null ? null : HostNames.Normalize(hostName);
        try
        {
            _route = hostName is null ? null : shared.Routes.Resolve(hostName);
        }
        catch (RegistryUnavailableException e)
        {
            facts.KeyFailure = KeyOperationStatus.Unavailable;
            facts.KeyFailureDetail = e.Message;
            throw new TlsFatalAlert(AlertDescription.internal_error, e.Message);
        }
        if (_route is null)
            throw new TlsFatalAlert(AlertDescription.unrecognized_name, requested is null ? "no SNI and no default host" : "no tenant serves this name");
        facts.Route = _route;
        if (_route.Keys.Keys.Count == 0)
        {
            facts.KeyFailure = KeyOperationStatus.Unavailable;
            facts.KeyFailureDetail = $"no key server of tenant {_route.TenantName} is registered";
            throw new TlsFatalAlert(AlertDescription.internal_error, facts.KeyFailureDetail);
        }
        _delegationSchemes = DelegationSchemes(clientExtensions);
        _clientTicket = TlsUtilities.GetExtensionData(clientExtensions, ExtensionType.session_ticket);
        _clientProtocols = TlsExtensionsUtilities.GetAlpnExtensionClient(clientExtensions);
        if (TlsUtilities.IsTlsV13(m_context))
        {
            RequireTls13Certificate();
            OrderTls13Groups(clientExtensions);
        }
        base.ProcessClientExtensions(clientExtensions);
    }

    /// <summary>
    /// RFC 8446 §4.4.2.2: without a certificate the client's signature_algorithms allow (only rsa_pkcs1_*, only
    /// rsa_pss_pss_*, SHA-1 or SHA-224 ECDSA), the handshake ends in handshake_failure. Checked here, before the
    /// ServerHello: BouncyCastle asks for credentials only after it has sent the ServerHello, and the alert then
    /// came encrypted after it. A delegated credential is only served for a key of the name, signed with a scheme
    /// the client lists, so it never helps a client none of those keys can serve.
    /// </summary>
    private void RequireTls13Certificate()
    {
        var clientSigAlgs = m_context.SecurityParameters.ClientSigAlgs;
        if (!Tls13Preference.Any(algorithm => Key(algorithm) is not null && SignatureSelection.Select(algorithm, true, clientSigAlgs) is not null))
            throw new TlsFatalAlert(AlertDescription.handshake_failure, "no certificate this client can verify");
    }

    /// <summary>RFC 9345 §4.1.1: the client's delegated_credential extension, a SignatureSchemeList; null when absent.</summary>
    private static int[]? DelegationSchemes(IDictionary<int, byte[]> clientExtensions)
    {
        if (TlsUtilities.GetExtensionData(clientExtensions, DelegatedCredential.ExtensionType) is not { } data) return null;
        if (data.Length < 4 || data.Length % 2 != 0 || (data[0] << 8 | data[1]) != data.Length - 2)
            throw new TlsFatalAlert(AlertDescription.decode_error, "malformed delegated_credential extension");
        return Enumerable.Range(0, (data.Length - 2) / 2).Select(i => data[2 + 2 * i] << 8 | data[3 + 2 * i]).ToArray();
    }

    public override IDictionary<int, byte[]> GetServerExtensions()
    {
        var extensions = base.GetServerExtensions();
        if (m_context.SecurityParameters.ClientServerNames is { Count: > 0 })
            TlsExtensionsUtilities.AddServerNameExtensionServer(extensions); // RFC 6066 §3 acknowledgement
        // RFC 5077 §3.2: an empty session_ticket extension promises a NewSessionTicket after the client's Finished.
        if (_clientTicket is not null && shared.Tickets is { HasKeys: true } && !TlsUtilities.IsTlsV13(m_context))
            extensions[ExtensionType.session_ticket] = TlsUtilities.EmptyBytes;
        return extensions;
    }

    public override void GetServerExtensionsForConnection(IDictionary<int, byte[]> serverExtensions)
    {
        base.GetServerExtensionsForConnection(serverExtensions);
        if (!m_context.SecurityParameters.IsResumedSession) return;
        serverExtensions.Remove(ExtensionType.server_name);
        // A resumed session's extensions are those of its full handshake; no new ticket follows a resumption here.
        serverExtensions.Remove(ExtensionType.session_ticket);
    }

    /// <summary>
    /// RFC 5077 §3.3: the session sealed with the fleet's ticket key, so the client can resume it on any edge. An
    /// empty ticket (allowed) when there is nothing to seal it with.
    /// </summary>
    public override NewSessionTicket GetNewSessionTicket()
    {
        var parameters = m_context.SecurityParameters;
        if (shared.Tickets is not { } tickets || facts.ServerName is not { } name || parameters.MasterSecret is not { } master
            || _served is not { } served)
            return base.GetNewSessionTicket();
        var secret = shared.Crypto.AdoptSecret(master).Extract(); // a copy: the connection keeps its own
        try
        {
            var session = new SessionTicketContent(default, parameters.CipherSuite, parameters.IsExtendedMasterSecret, secret, name,
                served.Sha256, parameters.ApplicationProtocol?.GetUtf8Decoding());
            return tickets.Issue(session) is { } ticket ? new NewSessionTicket((long)tickets.Lifetime.TotalSeconds, ticket) : base.GetNewSessionTicket();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>TLS 1.2 suites are only selectable when this host has a key that can serve them for this client.</summary>
    protected override bool IsSelectableCipherSuite(int cipherSuite, int availCurveBits, int availFiniteFieldBits, IList<short> sigAlgs)
    {
        if (!base.IsSelectableCipherSuite(cipherSuite, availCurveBits, availFiniteFieldBits, sigAlgs)) return false;
        return TlsUtilities.GetKeyExchangeAlgorithm(cipherSuite) switch
        {
            KeyExchangeAlgorithm.NULL => true,
            KeyExchangeAlgorithm.ECDHE_ECDSA => Tls12EcdsaKey() is not null,
            KeyExchangeAlgorithm.ECDHE_RSA or KeyExchangeAlgorithm.DHE_RSA => Tls12RsaSigner() is not null,
            KeyExchangeAlgorithm.RSA => _route?.Tenant.AllowRsaKeyExchange == true && Key(KeyAlgorithm.Rsa) is not null,
            _ => false,
        };
    }

    /// <summary>DefaultTlsServer cannot pick TLS 1.3 credentials (its switch is on the key exchange, NULL in 1.3).</summary>
    public override TlsCredentials GetCredentials()
    {
        if (!TlsUtilities.IsTlsV13(m_context)) return base.GetCredentials();
        transcript.Stop(); // only a TLS 1.2 RSA key exchange sends the handshake's messages to the key server
        var clientSigAlgs = m_context.SecurityParameters.ClientSigAlgs;
        if (DelegatedSigner(clientSigAlgs) is { } delegated) return delegated;
        foreach (var algorithm in Tls13Preference)
        {
            if (Key(algorithm) is { } key && SignatureSelection.Select(algorithm, true, clientSigAlgs) is { } scheme)
                return Signer(key, scheme, tls13: true);
        }
        throw new TlsFatalAlert(AlertDescription.handshake_failure, "no certificate this client can verify");
    }

    /// <summary>
    /// Credentials that need no key server, when the client accepts delegated credentials (RFC 9345 §4.1.1): the
    /// credential's algorithm (how the certificate's key signed it) in the client's signature_algorithms and its
    /// CertificateVerify scheme in the client's delegated_credential list. Asking for a credential is started here,
    /// for the next handshakes; this one then goes the keyless way.
    /// </summary>
    private DelegatedSigner? DelegatedSigner(IList<SignatureAndHashAlgorithm>? clientSigAlgs)
    {
        if (_delegationSchemes is not { } accepted || shared.Delegation is not { } delegation || clientSigAlgs is null || facts.ServerName is not { } host) return null;
        foreach (var algorithm in Tls13Preference)
        {
            if (Key(algorithm) is not { } key) continue;
            var chain = shared.Chains.For(key);
            if (delegation.Current(_route!.TenantName, key, chain, host) is not { } credential) continue;
            if (!clientSigAlgs.Any(offered => Org.BouncyCastle.Tls.SignatureScheme.From(offered) == (int)credential.Algorithm)) continue;
            if (Array.IndexOf(accepted, (int)credential.Key.Scheme) < 0) continue;
            _served = chain;
            return new DelegatedSigner(Tls13Certificate(chain, credential.Encoded), credential, facts);
        }
        return null;
    }

    protected override TlsCredentialedSigner GetECDsaSignerCredentials() =>
        Tls12EcdsaKey() is { } pick ? Signer(pick.Key, pick.Scheme, tls13: false) : throw new TlsFatalAlert(AlertDescription.internal_error);

    protected override TlsCredentialedSigner GetRsaSignerCredentials() =>
        Tls12RsaSigner() is { } pick ? Signer(pick.Key, pick.Scheme, tls13: false) : throw new TlsFatalAlert(AlertDescription.internal_error);

    protected override TlsCredentialedDecryptor GetRsaEncryptionCredentials()
    {
        var key = Key(KeyAlgorithm.Rsa) ?? throw new TlsFatalAlert(AlertDescription.internal_error);
        _served = shared.Chains.For(key);
        return new KeylessDecryptor(_served.Tls12, Crypto, Call(key, _served), Context(key), shared.Keys, transcript, facts);
    }

    private KeylessSigner Signer(KeyRoute key, SignatureAndHashAlgorithm scheme, bool tls13)
    {
        transcript.Stop();
        _served = shared.Chains.For(key);
        return new KeylessSigner(tls13 ? Tls13Certificate(_served) : _served.Tls12, scheme, tls13, Call(key, _served), Context(key), shared.Keys, facts);
    }

    /// <summary>
    /// The TLS 1.3 certificate message; its end-entity entry carries the OCSP staple when the client asked
    /// (RFC 8446 §4.4.2.1) and the delegated credential being served (RFC 9345 §4.1.1).
    /// </summary>
    private Certificate Tls13Certificate(ServerChain chain, byte[]? delegatedCredential = null)
    {
        var extensions = new Dictionary<int, byte[]>();
        if (Staple(chain) is { } status)
        {
            var encoded = new MemoryStream();
            status.Encode(encoded);
            extensions[ExtensionType.status_request] = encoded.ToArray();
        }
        if (delegatedCredential is not null) extensions[DelegatedCredential.ExtensionType] = delegatedCredential;
        return extensions.Count == 0 ? chain.Tls13 : chain.Tls13With(extensions);
    }

    /// <summary>The staple for the chain, if the client asked for OCSP and a current one is at hand.</summary>
    private CertificateStatus? Staple(ServerChain chain) =>
        m_certificateStatusRequest?.StatusType == CertificateStatusType.ocsp && shared.Staples?.Current(chain.ChainDer) is { } staple
            ? new CertificateStatus(CertificateStatusType.ocsp, staple.Response)
            : null;

    /// <summary>TLS 1.2: acknowledge status_request only when a staple can follow (RFC 6066 §8), for any key of the name.</summary>
    protected override bool AllowCertificateStatus() =>
        _route?.Keys.Keys.Any(k => shared.Staples?.Current(k.ChainDer) is not null) == true;

    /// <summary>TLS 1.2 CertificateStatus, sent right after the Certificate message.</summary>
    public override CertificateStatus? GetCertificateStatus() => _served is { } chain ? Staple(chain) : null;

    private KeyCall Call(KeyRoute key, ServerChain chain) => new(key.Replicas, chain.ChainDer[0]);

    /// <summary>Who asks for which key, for this connection: what every key request of the handshake carries.</summary>
    private KeyRequestContext Context(KeyRoute key) => new(_route!.TenantName, key.KeyId, facts.ServerName, clientAddress, shared.EdgeId);

    private KeyRoute? Key(KeyAlgorithm algorithm) => _route?.Keys.Keys.FirstOrDefault(k => k.Algorithm == algorithm);

    /// <summary>
    /// RFC 8422 §5.1: in TLS 1.2 the client's supported_groups also limit the curve of the ECDSA certificate.
    /// Ed25519 (RFC 8422 §5.1.1) is chosen by signature_algorithms alone; it comes after the ECDSA curves because
    /// fewer TLS 1.2 clients verify it.
    /// </summary>
    private (KeyRoute Key, SignatureAndHashAlgorithm Scheme)? Tls12EcdsaKey()
    {
        var groups = m_context.SecurityParameters.ClientSupportedGroups;
        foreach (var (algorithm, group) in new[] { (KeyAlgorithm.EcdsaP256, NamedGroup.secp256r1), (KeyAlgorithm.EcdsaP384, NamedGroup.secp384r1), (KeyAlgorithm.Ed25519, -1) })
        {
            if (Key(algorithm) is not { } key) continue;
            if (group >= 0 && groups is not null && Array.IndexOf(groups, group) < 0) continue;
            if (SignatureSelection.Select(algorithm, false, m_context.SecurityParameters.ClientSigAlgs) is { } scheme) return (key, scheme);
        }
        return null;
    }

    private (KeyRoute Key, SignatureAndHashAlgorithm Scheme)? Tls12RsaSigner() =>
        Key(KeyAlgorithm.Rsa) is { } key && SignatureSelection.Select(KeyAlgorithm.Rsa, false, m_context.SecurityParameters.ClientSigAlgs) is { } scheme
            ? (key, scheme)
            : null;

    // TLS 1.2 session-ID resumption; BouncyCastle never calls these for TLS 1.3 (it has no 1.3 resumption).
    public override byte[] GetNewSessionID() => TlsSessionCache.NewSessionId();

    /// <summary>
    /// A session resumes only while its certificate is still served for the name: after a rotation (hot reload on
    /// the key server) the client gets a full handshake and the new certificate, not the old one for the session's life.
    /// </summary>
    public override TlsSession? GetSessionToResume(byte[] sessionID)
    {
        var session = shared.Sessions.Find(sessionID, m_offeredCipherSuites, facts.ServerName);
        if (session is null) return TicketSession(sessionID); // which checks its leaf itself, by hash
        if (session.ExportSessionParameters()?.LocalCertificate is not { IsEmpty: false } served || _route is null) return session;
        var leaf = served.GetCertificateAt(0).GetEncoded();
        return _route.Keys.Keys.Any(k => k.ChainDer.Count > 0 && k.ChainDer[0].AsSpan().SequenceEqual(leaf)) ? session : null;
    }

    /// <summary>
    /// The session in the client's ticket, if this fleet sealed it, it has not expired, it was made for this name,
    /// its suite is offered again, its leaf certificate is still served here, and its ALPN protocol is offered again.
    /// RFC 5077 §3.4: the client sends a session id with its ticket; echoing it tells the client it resumed.
    /// </summary>
    private TlsSession? TicketSession(byte[] sessionID)
    {
        if (_clientTicket is not { Length: > 0 } || sessionID.Length == 0 || _route is null || shared.Tickets?.Redeem(_clientTicket) is not { } content)
            return null;
        try
        {
            if (!string.Equals(content.ServerName, facts.ServerName, StringComparison.Ordinal)) return null;
            if (m_offeredCipherSuites is null || Array.IndexOf(m_offeredCipherSuites, content.CipherSuite) < 0) return null;
            if (content.ApplicationProtocol is { } protocol && _clientProtocols?.Any(p => p.GetUtf8Decoding() == protocol) != true) return null;
            var served = _route.Keys.Keys.Select(shared.Chains.For).FirstOrDefault(chain => chain.Sha256.AsSpan().SequenceEqual(content.LeafSha256));
            if (served is null) return null;
            var extensions = new Dictionary<int, byte[]>();
            if (content.ApplicationProtocol is { } alpn) TlsExtensionsUtilities.AddAlpnExtensionServer(extensions, ProtocolName.AsUtf8Encoding(alpn));
            return TlsUtilities.ImportSession(sessionID, new SessionParameters.Builder()
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

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        var parameters = m_context.SecurityParameters;
        facts.Version = parameters.NegotiatedVersion.ToString();
        facts.Resumed = parameters.IsResumedSession;
        facts.ApplicationProtocol = parameters.ApplicationProtocol?.GetUtf8Decoding();
        if (parameters.NegotiatedGroup >= 0) facts.Group = KeyShareGroups.Name(parameters.NegotiatedGroup);
        if (!parameters.IsResumedSession && !TlsUtilities.IsTlsV13(m_context) && m_context.Session is { } session && facts.ServerName is { } name)
            shared.Sessions.Store(session, name);
    }

    public override void NotifyAlertRaised(short alertLevel, short alertDescription, string message, Exception cause)
    {
        // BouncyCastle's message says where it failed ("Failed to read record"); the cause says why.
        if (alertLevel == AlertLevel.fatal && m_context.SecurityParameters?.NegotiatedGroup is >= 0 and var group)
            facts.Group = KeyShareGroups.Name(group);
        if (alertLevel == AlertLevel.fatal)
            facts.AlertSent = $"{AlertDescription.GetText(alertDescription)}: {message}{(cause?.Message is { Length: > 0 } why && why != message ? $" ({why})" : "")}";
    }
}
