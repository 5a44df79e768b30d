using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace KeylessOrleans.Keys;

/// <summary>
/// One key operation asked of a tenant's key grain: who asks (<see cref="Context"/>, and the edge's <see cref="Proof"/>)
/// and, in the derived record, what exactly. The edge builds it once, from the TLS structure BouncyCastle hands over; it
/// travels unchanged through the edge's layers to <see cref="IKeyGrain.PerformAsync"/>, only the proof attached per
/// replica. The set of derived records is the set of operations: the key grain serves each by type and refuses any other.
/// </summary>
[GenerateSerializer, Immutable, Alias("keyless.KeyRequest")]
public abstract record KeyRequest(
    [property: Id(0)] KeyRequestContext Context,
    [property: Id(1)] EdgeProof? Proof)
{
    /// <summary>The operation's name in logs, metrics, audit records and proofs.</summary>
    public abstract string Operation { get; }

    /// <summary>
    /// The bytes the operation acts on, in a fixed layout: what the audit record keeps the SHA-256 of, and (with
    /// <see cref="InputParameter"/>) what the proof covers through <see cref="InputDigest"/>.
    /// </summary>
    public abstract byte[] Input();

    /// <summary>The 16-bit parameter the digest binds with the input: the signature scheme, or the client version.</summary>
    protected abstract ushort InputParameter { get; }

    /// <summary>SHA-256 over the request's input (never its output): what a proof signs.</summary>
    public byte[] InputDigest() => KeyRequestDigest.Of(Operation, InputParameter, Input());
}

/// <summary>Sign a TLS 1.3 CertificateVerify.</summary>
/// <param name="SignedContent">
/// The full content to be signed: 64 × 0x20 ‖ "TLS 1.3, server CertificateVerify" ‖ 0x00 ‖ transcript hash.
/// The key server checks this structure; it never signs a bare digest.
/// </param>
[GenerateSerializer, Immutable, Alias("keyless.SignCertificateVerifyRequest")]
public sealed record SignCertificateVerifyRequest(
    KeyRequestContext Context,
    [property: Id(0)] SignatureScheme Scheme,
    [property: Id(1)] byte[] SignedContent,
    EdgeProof? Proof = null) : KeyRequest(Context, Proof)
{
    public const string OperationName = "sign_certificate_verify";

    public override string Operation => OperationName;

    public override byte[] Input() => SignedContent;

    protected override ushort InputParameter => (ushort)Scheme;
}

/// <summary>Sign the parameters of a TLS 1.2 ECDHE or DHE ServerKeyExchange.</summary>
/// <param name="SignedParams">
/// client_random ‖ server_random ‖ ServerECDHParams (named curve only) or ServerDHParams (an RFC 7919 group only).
/// </param>
[GenerateSerializer, Immutable, Alias("keyless.SignServerKeyExchangeRequest")]
public sealed record SignServerKeyExchangeRequest(
    KeyRequestContext Context,
    [property: Id(0)] SignatureScheme Scheme,
    [property: Id(1)] byte[] SignedParams,
    EdgeProof? Proof = null) : KeyRequest(Context, Proof)
{
    public const string OperationName = "sign_server_key_exchange";

    public override string Operation => OperationName;

    public override byte[] Input() => SignedParams;

    protected override ushort InputParameter => (ushort)Scheme;
}

/// <summary>
/// Derive the master secret of a TLS 1.2 RSA key exchange (RFC 5246 §8.1, RFC 7627 §4): the key server decrypts the
/// premaster and feeds it to the PRF itself, and answers only the 48-byte master secret. The premaster never leaves
/// the key server, so an edge that replays a recorded ClientKeyExchange, under fresh randoms or a fresh transcript,
/// gets a master secret that opens nothing recorded; with the recorded ones it is refused as stale or replayed.
/// </summary>
[GenerateSerializer, Immutable, Alias("keyless.DeriveMasterSecretRequest")]
public sealed record DeriveMasterSecretRequest(
    KeyRequestContext Context,
    [property: Id(0)] RsaKeyExchange Exchange,
    EdgeProof? Proof = null) : KeyRequest(Context, Proof)
{
    public const string OperationName = "derive_master_secret";

    public override string Operation => OperationName;

    public override byte[] Input() => Exchange.Input();

    protected override ushort InputParameter => Exchange.ClientVersion;
}

/// <summary>
/// Delegate to an edge's key for a while (RFC 9345 delegated credentials): the key server builds the Credential
/// from these fields itself, checks them against the tenant's policy and signs it with the certificate's key,
/// with the delegated-credentials context string. Nothing else can be signed through this operation.
/// </summary>
/// <param name="CertificateSha256">SHA-256 of the end-entity certificate (of this key) the credential is bound to.</param>
/// <param name="Scheme">How the certificate's key signs the credential (the DelegatedCredential's algorithm).</param>
/// <param name="DelegatedScheme">dc_cert_verify_algorithm: how the edge's key will sign CertificateVerify.</param>
/// <param name="DelegatedPublicKey">The edge's public key, DER SubjectPublicKeyInfo.</param>
/// <param name="ValiditySeconds">How long the credential should be valid from now (at most the tenant's maximum).</param>
/// <param name="PossessionTime">When the edge signed <paramref name="PossessionSignature"/>, Unix milliseconds; the key server wants it fresh.</param>
/// <param name="PossessionSignature">
/// The delegated key's own signature (under <paramref name="DelegatedScheme"/>) over
/// <see cref="DelegatedCredential.PossessionContent"/>: proof that the edge holds the private half of the key it asks
/// to have certified, so no one gets a credential for a key they do not control (or someone else's).
/// </param>
[GenerateSerializer, Immutable, Alias("keyless.DelegateCredentialRequest")]
public sealed record DelegateCredentialRequest(
    KeyRequestContext Context,
    [property: Id(0)] byte[] CertificateSha256,
    [property: Id(1)] SignatureScheme Scheme,
    [property: Id(2)] SignatureScheme DelegatedScheme,
    [property: Id(3)] byte[] DelegatedPublicKey,
    [property: Id(4)] uint ValiditySeconds,
    EdgeProof? Proof = null,
    [property: Id(5)] long PossessionTime = 0,
    [property: Id(6)] byte[]? PossessionSignature = null) : KeyRequest(Context, Proof)
{
    public const string OperationName = "delegate_credential";

    public override string Operation => OperationName;

    /// <summary>Every field the key server uses, in a fixed layout (variable-length fields length-prefixed).</summary>
    public override byte[] Input()
    {
        var possession = PossessionSignature ?? [];
        var fixedPart = new byte[2 + 4 + 8 + 4 + 4];
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart, (ushort)Scheme);
        BinaryPrimitives.WriteUInt32BigEndian(fixedPart.AsSpan(2), ValiditySeconds);
        BinaryPrimitives.WriteInt64BigEndian(fixedPart.AsSpan(6), PossessionTime);
        BinaryPrimitives.WriteInt32BigEndian(fixedPart.AsSpan(14), DelegatedPublicKey.Length);
        BinaryPrimitives.WriteInt32BigEndian(fixedPart.AsSpan(18), possession.Length);
        return [.. fixedPart, .. CertificateSha256, .. DelegatedPublicKey, .. possession];
    }

    protected override ushort InputParameter => (ushort)DelegatedScheme;
}

/// <summary>The canonical digest of a request's input: operation ‖ a 16-bit parameter ‖ length-prefixed payload.</summary>
public static class KeyRequestDigest
{
    private const int StackLimit = 1024;

    /// <summary>One SHA-256 over one buffer: cheaper than an incremental hash object, which costs a native context per request.</summary>
    public static byte[] Of(string operation, ushort parameter, ReadOnlySpan<byte> payload)
    {
        // ASCII: one byte per character (others become '?').
        var length = operation.Length + 6 + payload.Length;
        var rented = length > StackLimit ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> buffer = rented is null ? stackalloc byte[StackLimit] : rented;
        buffer = buffer[..length];
        try
        {
            var at = System.Text.Encoding.ASCII.GetBytes(operation, buffer);
            BinaryPrimitives.WriteUInt16BigEndian(buffer[at..], parameter);
            BinaryPrimitives.WriteInt32BigEndian(buffer[(at + 2)..], payload.Length);
            payload.CopyTo(buffer[(at + 6)..]);
            return SHA256.HashData(buffer);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
