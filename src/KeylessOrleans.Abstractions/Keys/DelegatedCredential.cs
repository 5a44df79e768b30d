using System.Buffers.Binary;

namespace KeylessOrleans.Keys;

/// <summary>
/// RFC 9345 delegated credentials on the wire, for both sides: the key server builds and signs them, edges parse
/// what they serve. struct { uint32 valid_time; SignatureScheme dc_cert_verify_algorithm;
/// opaque ASN1_subjectPublicKeyInfo&lt;1..2^24-1&gt;; } Credential; struct { Credential cred; SignatureScheme algorithm;
/// opaque signature&lt;1..2^16-1&gt;; } DelegatedCredential.
/// </summary>
public static class DelegatedCredential
{
    /// <summary>The TLS extension (delegated_credential) in ClientHello and in the end-entity CertificateEntry.</summary>
    public const int ExtensionType = 34;

    /// <summary>RFC 9345 §4: a credential may be valid for at most 7 days.</summary>
    public static readonly TimeSpan MaxValidity = TimeSpan.FromDays(7);

    /// <summary>The X.509 extension a certificate needs before its key may delegate (DelegationUsage, RFC 9345 §4.2).</summary>
    public const string DelegationUsageOid = "1.3.6.1.4.1.44363.44";

    public static ReadOnlySpan<byte> Context => "TLS, server delegated credentials"u8;

    /// <summary>The parts of a parsed DelegatedCredential.</summary>
    public sealed record Parts(uint ValidTime, SignatureScheme VerifyScheme, byte[] SubjectPublicKeyInfo, SignatureScheme Algorithm, byte[] Signature, byte[] Credential);

    public static byte[] EncodeCredential(uint validTime, SignatureScheme verifyScheme, ReadOnlySpan<byte> subjectPublicKeyInfo)
    {
        var credential = new byte[4 + 2 + 3 + subjectPublicKeyInfo.Length];
        BinaryPrimitives.WriteUInt32BigEndian(credential, validTime);
        BinaryPrimitives.WriteUInt16BigEndian(credential.AsSpan(4), (ushort)verifyScheme);
        credential[6] = (byte)(subjectPublicKeyInfo.Length >> 16);
        credential[7] = (byte)(subjectPublicKeyInfo.Length >> 8);
        credential[8] = (byte)subjectPublicKeyInfo.Length;
        subjectPublicKeyInfo.CopyTo(credential.AsSpan(9));
        return credential;
    }

    /// <summary>
    /// What the certificate's key signs (RFC 9345 §4): 64 × 0x20 ‖ "TLS, server delegated credentials" ‖ 0x00 ‖
    /// DER of the end-entity certificate ‖ Credential ‖ SignatureScheme. The context string keeps it apart from
    /// every CertificateVerify and ServerKeyExchange input.
    /// </summary>
    public static byte[] SignedContent(ReadOnlySpan<byte> endEntityDer, ReadOnlySpan<byte> credential, SignatureScheme algorithm)
    {
        var content = new byte[64 + Context.Length + 1 + endEntityDer.Length + credential.Length + 2];
        content.AsSpan(0, 64).Fill(0x20);
        Context.CopyTo(content.AsSpan(64));
        var at = 64 + Context.Length + 1;
        endEntityDer.CopyTo(content.AsSpan(at));
        credential.CopyTo(content.AsSpan(at += endEntityDer.Length));
        BinaryPrimitives.WriteUInt16BigEndian(content.AsSpan(at + credential.Length), (ushort)algorithm);
        return content;
    }

    private static ReadOnlySpan<byte> PossessionContext => "KeylessOrleans, delegated key possession"u8;

    /// <summary>
    /// What an edge signs with the key it asks to have delegated to, proving it holds it: 64 × 0x20 ‖
    /// "KeylessOrleans, delegated key possession" ‖ 0x00 ‖ SHA-256 of the end-entity certificate ‖ uint16 scheme ‖
    /// uint32 validity seconds ‖ int64 Unix milliseconds ‖ uint24 length ‖ SubjectPublicKeyInfo. Its context string
    /// is none of TLS's (CertificateVerify, delegated credentials) nor the key-possession proof's, so this signature
    /// can never pass for one the same key makes in a handshake, and no handshake signature can pass for this.
    /// </summary>
    public static byte[] PossessionContent(
        ReadOnlySpan<byte> certificateSha256, SignatureScheme delegatedScheme, ReadOnlySpan<byte> subjectPublicKeyInfo, uint validitySeconds, long unixTimeMilliseconds)
    {
        var content = new byte[64 + PossessionContext.Length + 1 + certificateSha256.Length + 2 + 4 + 8 + 3 + subjectPublicKeyInfo.Length];
        content.AsSpan(0, 64).Fill(0x20);
        PossessionContext.CopyTo(content.AsSpan(64));
        var at = 64 + PossessionContext.Length + 1;
        certificateSha256.CopyTo(content.AsSpan(at));
        at += certificateSha256.Length;
        BinaryPrimitives.WriteUInt16BigEndian(content.AsSpan(at), (ushort)delegatedScheme);
        BinaryPrimitives.WriteUInt32BigEndian(content.AsSpan(at + 2), validitySeconds);
        BinaryPrimitives.WriteInt64BigEndian(content.AsSpan(at + 6), unixTimeMilliseconds);
        content[at + 14] = (byte)(subjectPublicKeyInfo.Length >> 16);
        content[at + 15] = (byte)(subjectPublicKeyInfo.Length >> 8);
        content[at + 16] = (byte)subjectPublicKeyInfo.Length;
        subjectPublicKeyInfo.CopyTo(content.AsSpan(at + 17));
        return content;
    }

    public static byte[] Encode(ReadOnlySpan<byte> credential, SignatureScheme algorithm, ReadOnlySpan<byte> signature) =>
        [.. credential, (byte)((ushort)algorithm >> 8), (byte)algorithm, (byte)(signature.Length >> 8), (byte)signature.Length, .. signature];

    /// <returns>The parts, or null when <paramref name="encoded"/> is not exactly one DelegatedCredential.</returns>
    public static Parts? Parse(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length < 9) return null;
        var keyLength = encoded[6] << 16 | encoded[7] << 8 | encoded[8];
        var credentialLength = 9 + keyLength;
        if (keyLength == 0 || encoded.Length < credentialLength + 4) return null;
        var signatureLength = encoded[credentialLength + 2] << 8 | encoded[credentialLength + 3];
        if (signatureLength == 0 || encoded.Length != credentialLength + 4 + signatureLength) return null;
        return new Parts(
            BinaryPrimitives.ReadUInt32BigEndian(encoded),
            (SignatureScheme)BinaryPrimitives.ReadUInt16BigEndian(encoded[4..]),
            encoded.Slice(9, keyLength).ToArray(),
            (SignatureScheme)BinaryPrimitives.ReadUInt16BigEndian(encoded[credentialLength..]),
            encoded[(credentialLength + 4)..].ToArray(),
            encoded[..credentialLength].ToArray());
    }
}
