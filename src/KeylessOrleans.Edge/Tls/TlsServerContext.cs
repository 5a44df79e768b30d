using KeylessOrleans.Edge.Delegation;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Stapling;
using KeylessOrleans.Edge.Tls.Tickets;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tls;

/// <summary>Shared, per-edge parts every connection's <see cref="KeylessTlsServer"/> uses, and the edge id its key requests name.</summary>
internal sealed record TlsServerContext(
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
