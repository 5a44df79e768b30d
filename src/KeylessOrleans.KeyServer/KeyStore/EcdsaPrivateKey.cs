using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>A P-256 or P-384 key in .NET's OpenSSL-backed <see cref="ECDsa"/>; signatures are DER, as TLS wants.</summary>
internal sealed class EcdsaPrivateKey : IPrivateKey
{
    public const string P256Oid = "1.2.840.10045.3.1.7";
    public const string P384Oid = "1.3.132.0.34";

    private readonly ECDsa _ecdsa;

    public EcdsaPrivateKey(ECDsa ecdsa)
    {
        Algorithm = ecdsa.ExportParameters(false).Curve.Oid.Value switch
        {
            P256Oid => KeyAlgorithm.EcdsaP256,
            P384Oid => KeyAlgorithm.EcdsaP384,
            var other => throw new NotSupportedException($"EC curve {other ?? "(unnamed)"} is not supported; use P-256 or P-384"),
        };
        _ecdsa = ecdsa;
        KeySizeBits = ecdsa.KeySize;
        SubjectPublicKeyInfo = ecdsa.ExportSubjectPublicKeyInfo();
        KeyId = KeyIds.FromSubjectPublicKeyInfo(SubjectPublicKeyInfo);
    }

    public string KeyId { get; }
    public KeyAlgorithm Algorithm { get; }
    public int KeySizeBits { get; }
    public byte[] SubjectPublicKeyInfo { get; }
    public bool SignsInTurn => Algorithm == KeyAlgorithm.EcdsaP256;

    public byte[] Sign(SignatureScheme scheme, ReadOnlySpan<byte> data) =>
        _ecdsa.SignData(data, TlsHashes.Of(scheme), DSASignatureFormat.Rfc3279DerSequence);

    public byte[] DecryptPremaster(ReadOnlySpan<byte> ciphertext, ushort clientVersion) =>
        throw new NotSupportedException("ECDSA keys cannot decrypt.");

    public void Dispose() => _ecdsa.Dispose();
}
