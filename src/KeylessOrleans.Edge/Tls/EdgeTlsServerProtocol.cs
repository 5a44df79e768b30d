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
/// </summary>
public sealed class EdgeTlsServerProtocol : TlsServerProtocol
{
    private bool _handshakeComplete;
    private int _readableAfterClose;

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
