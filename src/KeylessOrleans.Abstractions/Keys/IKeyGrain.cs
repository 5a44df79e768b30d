namespace KeylessOrleans.Keys;

/// <summary>
/// A tenant's private key, served from the tenant's own on-prem silo. Identity: <see cref="KeyGrainKey"/>.
/// There is deliberately no "sign these bytes" and no way to read key material: each operation checks that
/// its input is the exact TLS structure it claims to be, or (delegated credentials, master secrets, possession proofs)
/// builds what it signs or derives itself.
/// </summary>
[Alias("keyless.IKeyGrain")]
public interface IKeyGrain : IGrainWithStringKey
{
    /// <summary>
    /// Perform one key operation (<see cref="KeyRequest"/>'s derived records: TLS 1.3 CertificateVerify, TLS 1.2
    /// ServerKeyExchange, TLS 1.2 RSA master secret, RFC 9345 delegated credential, possession proof). The output is a
    /// signature, the handshake's 48-byte master secret (never the premaster), or the encoded DelegatedCredential; a
    /// request of any other type is refused as <see cref="KeyOperationStatus.InvalidRequest"/>.
    /// </summary>
    [Alias("Perform")]
    Task<KeyOperationResult> PerformAsync(KeyRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Open an edge session (<see cref="EdgeSessionRequest"/>): later requests from that edge to this tenant replica
    /// may prove themselves with the session's HMAC instead of a signature. Touches no tenant key.
    /// </summary>
    [Alias("OpenEdgeSession")]
    Task<EdgeSessionGrant> OpenEdgeSessionAsync(EdgeSessionRequest request, CancellationToken cancellationToken = default);

    [Alias("Describe")]
    Task<KeyDescriptionResult> DescribeAsync(CancellationToken cancellationToken = default);
}
