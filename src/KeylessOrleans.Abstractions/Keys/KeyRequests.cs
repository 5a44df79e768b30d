namespace KeylessOrleans.Keys;

/// <summary>Sign a TLS 1.3 CertificateVerify.</summary>
/// <param name="SignedContent">
/// The full content to be signed: 64 × 0x20 ‖ "TLS 1.3, server CertificateVerify" ‖ 0x00 ‖ transcript hash.
/// The key server checks this structure; it never signs a bare digest.
/// </param>
[GenerateSerializer, Immutable, Alias("keyless.SignCertificateVerifyRequest")]
public sealed record SignCertificateVerifyRequest(
    [property: Id(0)] KeyRequestContext Context,
    [property: Id(1)] SignatureScheme Scheme,
    [property: Id(2)] byte[] SignedContent);

/// <summary>Sign the parameters of a TLS 1.2 ECDHE ServerKeyExchange.</summary>
/// <param name="SignedParams">client_random ‖ server_random ‖ ServerECDHParams (named curve only).</param>
[GenerateSerializer, Immutable, Alias("keyless.SignServerKeyExchangeRequest")]
public sealed record SignServerKeyExchangeRequest(
    [property: Id(0)] KeyRequestContext Context,
    [property: Id(1)] SignatureScheme Scheme,
    [property: Id(2)] byte[] SignedParams);

/// <summary>Decrypt a TLS 1.2 RSA key-exchange premaster secret.</summary>
/// <param name="EncryptedPremaster">The ClientKeyExchange ciphertext, exactly the modulus length.</param>
/// <param name="ClientVersion">The client_version from the ClientHello (0x0303 for TLS 1.2), which the premaster must start with.</param>
[GenerateSerializer, Immutable, Alias("keyless.DecryptPremasterRequest")]
public sealed record DecryptPremasterRequest(
    [property: Id(0)] KeyRequestContext Context,
    [property: Id(1)] byte[] EncryptedPremaster,
    [property: Id(2)] ushort ClientVersion);
