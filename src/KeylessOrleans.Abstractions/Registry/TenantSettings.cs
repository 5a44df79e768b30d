namespace KeylessOrleans.Registry;

/// <summary>Where an edge sends a tenant's decrypted traffic.</summary>
/// <param name="Host">Origin host name or IP address.</param>
/// <param name="Port">Origin TCP port.</param>
/// <param name="ProxyProtocol">Send a PROXY protocol v2 header with the client's address first.</param>
/// <param name="Http2">The origin speaks HTTP/2 (cleartext, prior knowledge), so the edge may offer "h2" by ALPN.</param>
[GenerateSerializer, Immutable, Alias("keyless.OriginEndpoint")]
public sealed record OriginEndpoint(
    [property: Id(0)] string Host,
    [property: Id(1)] int Port,
    [property: Id(2)] bool ProxyProtocol = false,
    [property: Id(3)] bool Http2 = false);

/// <summary>
/// One replica of a tenant's key server as the operator recorded it: its name (the replica in key-grain ids) and the
/// address of its Orleans gateway, which edges reach as clients of the tenant's own cluster.
/// </summary>
/// <param name="Gateway">host:port (an IP address or a DNS name) of the replica's gateway.</param>
[GenerateSerializer, Immutable, Alias("keyless.KeyServerEndpoint")]
public sealed record KeyServerEndpoint(
    [property: Id(0)] string Replica,
    [property: Id(1)] string Gateway);

/// <summary>What the operator decides for a tenant: the host names it may serve, its origin, its TLS policy.</summary>
/// <param name="HostNames">Names (exact or "*.example.com") the tenant's certificates may cover.</param>
/// <param name="AllowRsaKeyExchange">Offer TLS 1.2 RSA key exchange (no forward secrecy) for this tenant's RSA keys.</param>
/// <param name="KeyServers">
/// Where edges reach the tenant's key servers (its own cluster's gateways). Empty: the tenant's key servers are members
/// of the operator's cluster (single-organization mode, where they register themselves).
/// </param>
/// <param name="KeyServerCa">
/// PEM of the CA that issues the tenant's key-server certificates: an edge connects to a gateway only when it presents a
/// certificate from this CA naming keyless://onprem/TENANT/REPLICA for this tenant.
/// </param>
[GenerateSerializer, Immutable, Alias("keyless.TenantSettings")]
public sealed record TenantSettings(
    [property: Id(0)] string Tenant,
    [property: Id(1)] IReadOnlyList<string> HostNames,
    [property: Id(2)] OriginEndpoint Origin,
    [property: Id(3)] bool AllowRsaKeyExchange = true,
    [property: Id(4)] IReadOnlyList<KeyServerEndpoint>? KeyServers = null,
    [property: Id(5)] string? KeyServerCa = null)
{
    /// <summary>The tenant's key servers are reached as a cluster of their own (federated), not as members.</summary>
    public bool IsFederated => KeyServers is { Count: > 0 };

    /// <summary>The same settings, lists compared by value (a record compares its lists by reference).</summary>
    public bool SameAs(TenantSettings other) =>
        Tenant == other.Tenant && Origin == other.Origin && AllowRsaKeyExchange == other.AllowRsaKeyExchange
        && HostNames.SequenceEqual(other.HostNames)
        && (KeyServers ?? []).SequenceEqual(other.KeyServers ?? []) && KeyServerCa == other.KeyServerCa;
}
