using KeylessOrleans.Cluster;

namespace KeylessOrleans.Edge.Tls.Tickets;

/// <summary>One key that seals TLS 1.2 session tickets: its public name (in every ticket) and its AES-256 secret.</summary>
[GenerateSerializer, Immutable, Alias("keyless.SessionTicketKey")]
internal sealed record SessionTicketKey(
    [property: Id(0)] byte[] Name,
    [property: Id(1)] byte[] Secret,
    [property: Id(2)] DateTimeOffset Created);

/// <summary>The fleet's ticket keys, newest first: any of them opens tickets (which one seals: <see cref="SessionTicketKeyRing"/>).</summary>
[GenerateSerializer, Immutable, Alias("keyless.SessionTicketKeySet")]
internal sealed record SessionTicketKeySet([property: Id(0)] IReadOnlyList<SessionTicketKey> Keys);

/// <summary>
/// The one place the edge fleet's session-ticket keys come from, so a client resumes on whichever edge the load
/// balancer picks, not only on the edge that issued its ticket. Hosted by an edge silo, in memory only. Edges only:
/// the keys open every session ticket, and so every resumed session's master secret.
/// </summary>
[Alias("keyless.ISessionTicketKeysGrain"), AllowedCallers(Callers.Edge)]
internal interface ISessionTicketKeysGrain : IGrainWithIntegerKey
{
    public const long DefaultKey = 0;

    [Alias("GetKeys")]
    Task<SessionTicketKeySet> GetKeysAsync();
}
