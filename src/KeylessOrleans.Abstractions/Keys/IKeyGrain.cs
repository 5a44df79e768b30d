namespace KeylessOrleans.Keys;

/// <summary>
/// A tenant's private key, served from the tenant's own on-prem silo. Identity: <see cref="KeyGrainKey"/>.
/// There is deliberately no "sign these bytes" and no way to read key material: each operation checks that
/// its input is the exact TLS structure it claims to be, or (delegated credentials, master secrets) builds what it
/// signs or derives itself.
/// </summary>
[Alias("keyless.IKeyGrain")]
public interface IKeyGrain : IGrainWithStringKey
{
    [Alias("SignCertificateVerify")]
    Task<KeyOperationResult> SignCertificateVerifyAsync(SignCertificateVerifyRequest request, CancellationToken cancellationToken = default);

    [Alias("SignServerKeyExchange")]
    Task<KeyOperationResult> SignServerKeyExchangeAsync(SignServerKeyExchangeRequest request, CancellationToken cancellationToken = default);

    /// <summary>TLS 1.2 RSA key exchange: the output is the handshake's 48-byte master secret, never the premaster.</summary>
    [Alias("DeriveMasterSecret")]
    Task<KeyOperationResult> DeriveMasterSecretAsync(DeriveMasterSecretRequest request, CancellationToken cancellationToken = default);

    /// <summary>Issue an RFC 9345 delegated credential to an edge's key; the output is the encoded DelegatedCredential.</summary>
    [Alias("DelegateCredential")]
    Task<KeyOperationResult> DelegateCredentialAsync(DelegateCredentialRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Open an edge session (<see cref="EdgeSessionRequest"/>): later requests from that edge to this tenant replica
    /// may prove themselves with the session's HMAC instead of a signature. Touches no tenant key.
    /// </summary>
    [Alias("OpenEdgeSession")]
    Task<EdgeSessionGrant> OpenEdgeSessionAsync(EdgeSessionRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sign the edge's fresh challenge with this key (<see cref="KeyPossession.SignedContent"/>): how an edge learns that
    /// this replica really holds the key of a chain it announced. The output is the signature in <paramref name="request"/>'s scheme.
    /// </summary>
    [Alias("ProvePossession")]
    Task<KeyOperationResult> ProvePossessionAsync(ProvePossessionRequest request, CancellationToken cancellationToken = default);

    [Alias("Describe")]
    Task<KeyDescriptionResult> DescribeAsync(CancellationToken cancellationToken = default);
}
