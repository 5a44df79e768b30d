using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// BouncyCastle's server protocol with half-close: a client's close_notify after the handshake closes only the
/// client's direction. RFC 8446 §6.1 lets each side close its write side on its own; BouncyCastle follows RFC 5246
/// §7.2.1 (answer close_notify at once and discard pending writes), which dropped the origin's response to a
/// client that sent its request and then close_notify (gnutls-cli at the end of its input, HTTP/1.0 tools). Here
/// the request already received is still delivered, the response is written, and <see cref="TlsProtocol.Close"/>
/// sends this side's close_notify when the response is done. Data the client sends after its close_notify is
/// ignored (RFC 8446 §6.1).
/// <para>
/// Alerts: a client's message that ends early (an inner length running past its end) makes BouncyCastle's reader
/// throw EndOfStreamException, which it answers with internal_error; the fault is the client's malformed message,
/// so it is answered with decode_error (RFC 8446 §6.2). The fatal alert raised is kept (<see cref="FatalAlertRaised"/>):
/// BouncyCastle sends nothing, not even an alert, until a ClientHello has parsed, so the connection sends that
/// alert itself when nothing went out.
/// </para>
/// </summary>
internal sealed class EdgeTlsServerProtocol : TlsServerProtocol
{
    private bool _handshakeComplete;
    private int _readableAfterClose;

    /// <summary>
    /// A HelloRetryRequest without a cookie. BouncyCastle adds a random one and checks the client echoes it; a cookie
    /// (RFC 8446 §4.2.2) serves a server that keeps no state between the two ClientHellos, and this one keeps the
    /// connection. Without it the HelloRetryRequest is what OpenSSL and NSS servers send, and clients that take a
    /// cookie as unexpected are not refused; the second ClientHello must then carry none (it is compared with null).
    /// </summary>
    protected override ServerHello Generate13HelloRetryRequest(ClientHello clientHello)
    {
        m_retryCookie = null;
        return base.Generate13HelloRetryRequest(clientHello);
    }

    /// <summary>The description of the fatal alert this side raised, if any.</summary>
    public short? FatalAlertRaised { get; private set; }

    protected override void RaiseAlertFatal(short alertDescription, string message, Exception cause)
    {
        if (alertDescription == AlertDescription.internal_error && cause is EndOfStreamException)
            alertDescription = AlertDescription.decode_error;
        FatalAlertRaised = alertDescription;
        base.RaiseAlertFatal(alertDescription, message, cause);
    }

    /// <summary>The client sent close_notify after the handshake: it sends nothing more, but may still read.</summary>
    public bool PeerClosed { get; private set; }

    protected override void CompleteHandshake()
    {
        base.CompleteHandshake();
        _handshakeComplete = true;
    }

    protected override void HandleAlertWarningMessage(short alertDescription)
    {
        if (alertDescription == AlertDescription.close_notify && _handshakeComplete)
        {
            if (!PeerClosed)
            {
                PeerClosed = true;
                _readableAfterClose = base.ApplicationDataAvailable;
            }
            return;
        }
        base.HandleAlertWarningMessage(alertDescription);
    }

    /// <summary>After the client's close_notify, only the bytes that came before it.</summary>
    public override int ApplicationDataAvailable =>
        PeerClosed ? Math.Min(_readableAfterClose, base.ApplicationDataAvailable) : base.ApplicationDataAvailable;

    public override int ReadInput(byte[] buf, int off, int len)
    {
        var read = base.ReadInput(buf, off, len); // at most ApplicationDataAvailable
        if (PeerClosed) _readableAfterClose -= read;
        return read;
    }
}
