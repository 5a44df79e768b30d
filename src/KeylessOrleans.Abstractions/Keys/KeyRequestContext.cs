namespace KeylessOrleans.Keys;

/// <summary>Who asks for which key, and for which connection. Carried by every key request for checks and audit.</summary>
/// <param name="Tenant">The tenant that owns the key.</param>
/// <param name="KeyId">The key's id: lowercase hex SHA-256 of its DER SubjectPublicKeyInfo (see <see cref="KeyIds"/>).</param>
/// <param name="ServerName">The SNI host name the client asked for, if any.</param>
/// <param name="ClientAddress">The TLS client's IP address as seen by the edge, for the audit trail.</param>
/// <param name="EdgeId">The id of the edge silo that forwards the request.</param>
[GenerateSerializer, Immutable, Alias("keyless.KeyRequestContext")]
public sealed record KeyRequestContext(
    [property: Id(0)] string Tenant,
    [property: Id(1)] string KeyId,
    [property: Id(2)] string? ServerName,
    [property: Id(3)] string? ClientAddress,
    [property: Id(4)] string EdgeId);
