using System.Runtime.Versioning;
using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>An RSA key in .NET's OpenSSL-backed <see cref="RSAOpenSsl"/>: signing through .NET, decryption as raw RSA in OpenSSL.</summary>
/// <remarks>
/// Decryption never goes through .NET's PKCS#1 decryption: with OpenSSL 3.0 it throws on bad padding, a timing
/// oracle (Bleichenbacher). Instead a blinded raw RSA operation is followed by <see cref="PremasterUnpadding"/>,
/// whose fallback is <see cref="ImplicitRejection"/>'s deterministic answer under a key derived from d.
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed class RsaPrivateKey : IPrivateKey
{
    private readonly RSAOpenSsl _rsa;
    private readonly SafeEvpPKeyHandle _evp;
    private readonly byte[] _modulus;
    private readonly byte[] _rejectionKey;

    public RsaPrivateKey(RSAOpenSsl rsa)
    {
        _rsa = rsa;
        _evp = rsa.DuplicateKeyHandle();
        KeySizeBits = rsa.KeySize;
        SubjectPublicKeyInfo = rsa.ExportSubjectPublicKeyInfo();
        var parameters = rsa.ExportParameters(includePrivateParameters: true);
        try
        {
            _modulus = parameters.Modulus!;
            _rejectionKey = ImplicitRejection.DeriveKey(parameters.D, _modulus.Length);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(parameters.D);
            CryptographicOperations.ZeroMemory(parameters.P);
            CryptographicOperations.ZeroMemory(parameters.Q);
            CryptographicOperations.ZeroMemory(parameters.DP);
            CryptographicOperations.ZeroMemory(parameters.DQ);
            CryptographicOperations.ZeroMemory(parameters.InverseQ);
        }
        KeyId = KeyIds.FromSubjectPublicKeyInfo(SubjectPublicKeyInfo);
    }

    public string KeyId { get; }
    public KeyAlgorithm Algorithm => KeyAlgorithm.Rsa;
    public int KeySizeBits { get; }
    public byte[] SubjectPublicKeyInfo { get; }

    public byte[] Sign(SignatureScheme scheme, ReadOnlySpan<byte> data)
    {
        var padding = TlsHashes.IsPss(scheme) ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        return _rsa.SignData(data, TlsHashes.Of(scheme), padding);
    }

    public byte[] DecryptPremaster(ReadOnlySpan<byte> ciphertext, ushort clientVersion)
    {
        var premaster = new byte[PremasterUnpadding.PremasterLength];
        var fallback = new byte[PremasterUnpadding.PremasterLength];
        var encoded = new byte[_modulus.Length];
        try
        {
            // Computed for every ciphertext, so good and bad padding cost the same.
            ImplicitRejection.Compute(_rejectionKey, ciphertext, fallback);
            // Length and c < n are public facts about the ciphertext; only the padding is secret.
            if (ciphertext.Length == _modulus.Length && ciphertext.SequenceCompareTo(_modulus) < 0
                && OpenSslRawRsa.Decrypt(_evp, ciphertext, encoded))
                PremasterUnpadding.Unpad(encoded, clientVersion, fallback, premaster);
            else
                fallback.CopyTo(premaster, 0);
            return premaster;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(encoded);
            CryptographicOperations.ZeroMemory(fallback);
        }
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_rejectionKey);
        _evp.Dispose();
        _rsa.Dispose();
    }
}
