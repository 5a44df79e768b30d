namespace KeylessOrleans.Keys;

/// <summary>What an edge may know about a key: its public half and what it can be used for.</summary>
/// <param name="SubjectPublicKeyInfo">DER SubjectPublicKeyInfo of the public key.</param>
/// <param name="AllowedSchemes">The signature schemes the key server will use with this key.</param>
/// <param name="CanDecrypt">True for RSA keys that may do TLS 1.2 RSA key exchange.</param>
[GenerateSerializer, Immutable, Alias("keyless.KeyDescription")]
public sealed record KeyDescription(
    [property: Id(0)] string KeyId,
    [property: Id(1)] KeyAlgorithm Algorithm,
    [property: Id(2)] int KeySizeBits,
    [property: Id(3)] byte[] SubjectPublicKeyInfo,
    [property: Id(4)] IReadOnlyList<SignatureScheme> AllowedSchemes,
    [property: Id(5)] bool CanDecrypt);

/// <summary>The answer to a describe call: the description when the key exists.</summary>
[GenerateSerializer, Immutable, Alias("keyless.KeyDescriptionResult")]
public sealed record KeyDescriptionResult(
    [property: Id(0)] KeyOperationStatus Status,
    [property: Id(1)] KeyDescription? Description = null,
    [property: Id(2)] string? Detail = null);
