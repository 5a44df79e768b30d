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

/// <summary>What the operator decides for a tenant: the host names it may serve, its origin, its TLS policy.</summary>
/// <param name="HostNames">Names (exact or "*.example.com") the tenant's certificates may cover.</param>
/// <param name="AllowRsaKeyExchange">Offer TLS 1.2 RSA key exchange (no forward secrecy) for this tenant's RSA keys.</param>
[GenerateSerializer, Immutable, Alias("keyless.TenantSettings")]
public sealed record TenantSettings(
    [property: Id(0)] string Tenant,
    [property: Id(1)] IReadOnlyList<string> HostNames,
    [property: Id(2)] OriginEndpoint Origin,
    [property: Id(3)] bool AllowRsaKeyExchange = true)
{
    /// <summary>The same settings, host names compared by value (a record compares its list by reference).</summary>
    public bool SameAs(TenantSettings other) =>
        Tenant == other.Tenant && Origin == other.Origin && AllowRsaKeyExchange == other.AllowRsaKeyExchange && HostNames.SequenceEqual(other.HostNames);
}
