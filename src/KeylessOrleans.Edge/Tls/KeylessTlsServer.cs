using KeylessOrleans.Edge.Delegation;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Tls.Tickets;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// One connection's TLS server: TLS 1.3 and 1.2 with AEAD suites only, certificate chosen per SNI from the
/// registry and per what the client can verify, private-key operations sent to the tenant's key server.
/// BouncyCastle's hooks only: the rules live in <see cref="SuiteAndGroupPolicy"/>, <see cref="ServerNameRoute"/>,
/// <see cref="CredentialChoice"/>, <see cref="CertificateMessages"/> and <see cref="SessionResumption"/>, which
/// keep no state; this connection's state stays here, so a handshake allocates no helper objects.
/// </summary>
internal sealed class KeylessTlsServer(TlsServerContext shared, string clientAddress, HandshakeFacts facts, HandshakeTranscript transcript)
    : DefaultTlsServer(shared.Crypto)
{
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

    // Versions, suites and groups (SuiteAndGroupPolicy)

    protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv13.DownTo(ProtocolVersion.TLSv12);

    protected override int[] GetSupportedCipherSuites() => TlsUtilities.GetSupportedCipherSuites(Crypto, SuiteAndGroupPolicy.Suites);

    protected override bool PreferLocalCipherSuites() => true;

    /// <summary>
    /// TLS 1.2 server_random starts with the time, so a key server can refuse to sign a ServerKeyExchange or decrypt
    /// a premaster for a handshake that is not happening now (replay of recorded requests). TLS 1.3 ignores this.
    /// </summary>
    public override bool ShouldUseGmtUnixTime() => true;

    public override int GetMaxHandshakeMessageSize() => MaxHandshakeMessageSize;

    public override int[] GetSupportedGroups() => SuiteAndGroupPolicy.SupportedGroups(TlsUtilities.IsTlsV13(m_context), shared.Tls13Groups);

    /// <summary>The server's group order wins over the client's (<see cref="SuiteAndGroupPolicy.OrderTls13Groups"/>).</summary>
    public override bool PreferLocalSupportedGroups() => true;

    /// <summary>Without a supported_groups extension, BouncyCastle's default (secp256r1) stands.</summary>
    protected override int SelectECDH(int minimumCurveBits) =>
        Chosen(m_context.SecurityParameters.ClientSupportedGroups is { } offered
            ? SuiteAndGroupPolicy.SelectCurve(offered, minimumCurveBits)
            : base.SelectECDH(minimumCurveBits));

    protected override int GetMaximumNegotiableCurveBits() =>
        m_context.SecurityParameters.ClientSupportedGroups is { } offered
            ? SuiteAndGroupPolicy.MaxCurveBits(offered)
            : base.GetMaximumNegotiableCurveBits();

    protected override int SelectDH(int minimumFiniteFieldBits) =>
        Chosen(SuiteAndGroupPolicy.SelectFiniteFieldGroup(m_context.SecurityParameters.ClientSupportedGroups, minimumFiniteFieldBits));

    protected override int GetMaximumNegotiableFiniteFieldBits() =>
        SuiteAndGroupPolicy.MaxFiniteFieldBits(m_context.SecurityParameters.ClientSupportedGroups);

    /// <summary>Notes the TLS 1.2 key-exchange group (BouncyCastle records the negotiated group only for TLS 1.3).</summary>
    private int Chosen(int group)
    {
        if (group >= 0) facts.Group = KeyShareGroups.Name(group);
        return group;
    }

    // The ClientHello's extensions

    /// <summary>
    /// SNI decides the tenant (<see cref="ServerNameRoute"/>). The route must be known before the base call, which
    /// selects the ALPN protocol.
    /// </summary>
    public override void ProcessClientExtensions(IDictionary<int, byte[]> clientExtensions)
    {
        var parameters = m_context.SecurityParameters;
        _route = ServerNameRoute.Resolve(parameters.ClientServerNames, shared, facts);
        _delegationSchemes = CredentialChoice.AcceptedDelegationSchemes(clientExtensions);
        _clientTicket = TlsUtilities.GetExtensionData(clientExtensions, ExtensionType.session_ticket);
        _clientProtocols = TlsExtensionsUtilities.GetAlpnExtensionClient(clientExtensions);
        if (TlsUtilities.IsTlsV13(m_context))
        {
            // RFC 8446 §4.4.2.2: without a certificate the client's signature_algorithms allow (only rsa_pkcs1_*, only
            // rsa_pss_pss_*, SHA-1 or SHA-224 ECDSA), the handshake ends in handshake_failure. Checked here, before
            // the ServerHello: BouncyCastle asks for credentials only after it has sent the ServerHello, and the
            // alert would then come encrypted after it. A delegated credential is only served for a key of the name,
            // signed with a scheme the client lists, so it never helps a client none of those keys can serve.
            if (CredentialChoice.Tls13Key(_route, parameters.ClientSigAlgs) is null)
                throw new TlsFatalAlert(AlertDescription.handshake_failure, "no certificate this client can verify");
            if (parameters.ServerSupportedGroups is { } groups
                && SuiteAndGroupPolicy.OrderTls13Groups(groups, parameters.ClientSupportedGroups, TlsExtensionsUtilities.GetKeyShareClientHello(clientExtensions)) is { } share)
            {
                facts.Group = KeyShareGroups.Name(share.NamedGroup);
                KeyShareGroups.CheckClientShare(share);
            }
        }
        base.ProcessClientExtensions(clientExtensions);
    }

    /// <summary>ALPN: HTTP/2 only for an origin that speaks it.</summary>
    protected override IList<ProtocolName> GetProtocolNames() =>
        _route?.Tenant.Origin.Http2 == true ? [ProtocolName.Http_2_Tls, ProtocolName.Http_1_1] : [ProtocolName.Http_1_1];

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

    // Credentials (CredentialChoice, CertificateMessages)

    /// <summary>TLS 1.2 suites are only selectable when this host has a key that can serve them for this client.</summary>
    protected override bool IsSelectableCipherSuite(int cipherSuite, int availCurveBits, int availFiniteFieldBits, IList<short> sigAlgs) =>
        base.IsSelectableCipherSuite(cipherSuite, availCurveBits, availFiniteFieldBits, sigAlgs)
        && CredentialChoice.CanServe(TlsUtilities.GetKeyExchangeAlgorithm(cipherSuite), _route,
            m_context.SecurityParameters.ClientSupportedGroups, m_context.SecurityParameters.ClientSigAlgs);

    /// <summary>
    /// DefaultTlsServer cannot pick TLS 1.3 credentials (its switch is on the key exchange, NULL in 1.3). A delegated
    /// credential, when the client accepts one, needs no key server.
    /// </summary>
    public override TlsCredentials GetCredentials()
    {
        if (!TlsUtilities.IsTlsV13(m_context)) return base.GetCredentials();
        transcript.Stop(); // only a TLS 1.2 RSA key exchange sends the handshake's messages to the key server
        var clientSigAlgs = m_context.SecurityParameters.ClientSigAlgs;
        if (_delegationSchemes is { } accepted && shared.Delegation is { } delegation && clientSigAlgs is not null && facts.ServerName is { } host
            && CredentialChoice.Delegated(_route!, accepted, clientSigAlgs, host, shared.Chains, delegation) is { } delegated)
        {
            _served = delegated.Chain;
            return new DelegatedSigner(Tls13Certificate(delegated.Chain, delegated.Credential.Encoded), delegated.Credential, facts);
        }
        return CredentialChoice.Tls13Key(_route, clientSigAlgs) is { } pick
            ? Signer(pick.Key, pick.Scheme, tls13: true)
            : throw new TlsFatalAlert(AlertDescription.handshake_failure, "no certificate this client can verify");
    }

    protected override TlsCredentialedSigner GetECDsaSignerCredentials() =>
        CredentialChoice.Tls12EcdsaKey(_route, m_context.SecurityParameters.ClientSupportedGroups, m_context.SecurityParameters.ClientSigAlgs) is { } pick
            ? Signer(pick.Key, pick.Scheme, tls13: false)
            : throw new TlsFatalAlert(AlertDescription.internal_error);

    protected override TlsCredentialedSigner GetRsaSignerCredentials() =>
        CredentialChoice.Tls12RsaKey(_route, m_context.SecurityParameters.ClientSigAlgs) is { } pick
            ? Signer(pick.Key, pick.Scheme, tls13: false)
            : throw new TlsFatalAlert(AlertDescription.internal_error);

    protected override TlsCredentialedDecryptor GetRsaEncryptionCredentials()
    {
        var key = CredentialChoice.Key(_route, KeyAlgorithm.Rsa) ?? throw new TlsFatalAlert(AlertDescription.internal_error);
        _served = shared.Chains.For(key);
        return new KeylessDecryptor(_served.Tls12, Crypto, Call(key, _served), Context(key), shared.Keys, transcript, facts);
    }

    private KeylessSigner Signer(KeyRoute key, SignatureAndHashAlgorithm scheme, bool tls13)
    {
        transcript.Stop();
        _served = shared.Chains.For(key);
        return new KeylessSigner(tls13 ? Tls13Certificate(_served) : _served.Tls12, scheme, tls13, Call(key, _served), Context(key), shared.Keys, facts);
    }

    private Certificate Tls13Certificate(ServerChain chain, byte[]? delegatedCredential = null) =>
        CertificateMessages.Tls13(chain, CertificateMessages.Staple(chain, m_certificateStatusRequest, shared.Staples), delegatedCredential);

    private KeyCall Call(KeyRoute key, ServerChain chain) => new(key.Replicas, chain.ChainDer[0]);

    /// <summary>Who asks for which key, for this connection: what every key request of the handshake carries.</summary>
    private KeyRequestContext Context(KeyRoute key) => new(_route!.TenantName, key.KeyId, facts.ServerName, clientAddress, shared.EdgeId);

    // OCSP stapling in TLS 1.2 (TLS 1.3 staples in the Certificate message)

    protected override bool AllowCertificateStatus() => CertificateMessages.CanStaple(_route, shared.Staples);

    /// <summary>TLS 1.2 CertificateStatus, sent right after the Certificate message.</summary>
    public override CertificateStatus? GetCertificateStatus() =>
        _served is { } chain ? CertificateMessages.Staple(chain, m_certificateStatusRequest, shared.Staples) : null;

    // TLS 1.2 resumption (SessionResumption); BouncyCastle never calls these for TLS 1.3

    public override byte[] GetNewSessionID() => TlsSessionCache.NewSessionId();

    public override TlsSession? GetSessionToResume(byte[] sessionID) =>
        shared.Sessions.Find(sessionID, m_offeredCipherSuites, facts.ServerName) is { } session
            ? SessionResumption.IfStillServed(session, _route)
            : SessionResumption.FromTicket(shared, _route, sessionID, _clientTicket, facts.ServerName, m_offeredCipherSuites, _clientProtocols);

    public override NewSessionTicket GetNewSessionTicket() =>
        SessionResumption.NewTicket(shared, m_context.SecurityParameters, facts.ServerName, _served) ?? base.GetNewSessionTicket();

    // What the handshake decided, for logs and metrics

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
