using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Keys;

namespace KeylessOrleans.Edge.Tls;

/// <summary>What one connection's handshake decided and did, for logs, metrics and tests.</summary>
internal sealed class HandshakeFacts
{
    public string? ServerName { get; set; }
    public EdgeRoute? Route { get; set; }
    public int KeyCalls { get; set; }
    public KeyOperationStatus? KeyFailure { get; set; }
    public string? KeyFailureDetail { get; set; }
    public string? Version { get; set; }
    public bool Resumed { get; set; }

    /// <summary>
    /// The key-agreement group (X25519MLKEM768, x25519, ffdhe2048 …) as TLS names it; null for a resumption or
    /// RSA key exchange, or a handshake that failed before one was chosen.
    /// </summary>
    public string? Group { get; set; }

    /// <summary>CertificateVerify was signed with a delegated credential's key, here: the key server was not asked.</summary>
    public bool Delegated { get; set; }
    public string? ApplicationProtocol { get; set; }

    /// <summary>The fatal alert this edge sent, with BouncyCastle's reason, if the handshake failed on our side.</summary>
    public string? AlertSent { get; set; }
}
