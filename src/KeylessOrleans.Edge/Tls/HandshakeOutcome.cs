namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// How a connection's handshake ended. <see cref="HandshakeResult.Tag"/> names it for the handshakes metric's
/// outcome tag and the failed-handshake log.
/// </summary>
internal enum HandshakeOutcome
{
    /// <summary>The handshake completed ("ok").</summary>
    Ok,

    /// <summary>The TLS connection closed before the handshake completed, e.g. a close_notify ("closed").</summary>
    Closed,

    /// <summary>The client closed its TCP connection during the handshake ("client_closed").</summary>
    ClientClosed,

    /// <summary>The handshake did not complete within the handshake timeout ("timeout").</summary>
    Timeout,

    /// <summary>The edge is stopping ("shutdown").</summary>
    Shutdown,

    /// <summary>The handshake worker pool's queue was full ("overloaded").</summary>
    Overloaded,

    /// <summary>Reading from or writing to the client failed ("io_error").</summary>
    IoError,

    /// <summary>A client message that does not parse ("malformed_message").</summary>
    MalformedMessage,

    /// <summary>This edge refused the handshake with a fatal alert (the alert's name, e.g. "unrecognized_name").</summary>
    AlertSent,

    /// <summary>The client ended the handshake with a fatal alert ("client_alert_" and the alert's name).</summary>
    ClientAlert,

    /// <summary>A key operation failed, and so the handshake ("key_" and the status, e.g. "key_Unavailable").</summary>
    KeyFailure,
}
