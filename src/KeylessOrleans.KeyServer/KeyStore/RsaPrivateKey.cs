using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>An RSA key in .NET's OpenSSL-backed <see cref="RSA"/> (fast signing), plus a BouncyCastle copy for decryption.</summary>
/// <remarks>
/// Decryption never goes through .NET's PKCS#1 decryption: with OpenSSL 3.0 it throws on bad padding, a timing
/// oracle (Bleichenbacher). Instead a blinded raw RSA operation is followed by <see cref="PremasterUnpadding"/>.
/// </remarks>
public sealed class RsaPrivateKey : IPrivateKey
{
    private readonly RSA _rsa;
    private readonly Lazy<RsaPrivateCrtKeyParameters> _rawKey;

    public RsaPrivateKey(RSA rsa)
    {
        _rsa = rsa;
        KeySizeBits = rsa.KeySize;
        SubjectPublicKeyInfo = rsa.ExportSubjectPublicKeyInfo();
        KeyId = KeyIds.FromSubjectPublicKeyInfo(SubjectPublicKeyInfo);
        _rawKey = new Lazy<RsaPrivateCrtKeyParameters>(ExportForRawDecryption, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string KeyId { get; }
    public KeyAlgorithm Algorithm => KeyAlgorithm.Rsa;
    public int KeySizeBits { get; }
    public byte[] SubjectPublicKeyInfo { get; }

    public byte[] Sign(SignatureScheme scheme, ReadOnlySpan<byte> data)
    {
        var padding = TlsSignatureSchemes.IsPss(scheme) ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        return _rsa.SignData(data, TlsSignatureSchemes.HashOf(scheme), padding);
    }

    public byte[] DecryptPremaster(ReadOnlySpan<byte> ciphertext, ushort clientVersion)
    {
        var premaster = new byte[PremasterUnpadding.PremasterLength];
        var fallback = RandomNumberGenerator.GetBytes(PremasterUnpadding.PremasterLength);
        var modulusLength = (KeySizeBits + 7) / 8;
        var encoded = new byte[modulusLength];
        try
        {
            // Length and range are public facts about the ciphertext; only the padding is secret.
            if (ciphertext.Length == modulusLength && RawDecrypt(ciphertext, encoded))
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

    /// <summary>Blinded RSA (BouncyCastle), output left-padded to the modulus length. False when c ≥ n.</summary>
    private bool RawDecrypt(ReadOnlySpan<byte> ciphertext, byte[] encoded)
    {
        var key = _rawKey.Value;
        var c = new Org.BouncyCastle.Math.BigInteger(1, ciphertext.ToArray());
        if (c.CompareTo(key.Modulus) >= 0) return false;
        var engine = new RsaBlindedEngine();
        engine.Init(false, key);
        var input = ciphertext.ToArray();
        var output = engine.ProcessBlock(input, 0, input.Length);
        output.CopyTo(encoded, encoded.Length - output.Length);
        CryptographicOperations.ZeroMemory(output);
        return true;
    }

    private RsaPrivateCrtKeyParameters ExportForRawDecryption()
    {
        var parameters = _rsa.ExportParameters(includePrivateParameters: true);
        try
        {
            return (RsaPrivateCrtKeyParameters)DotNetUtilities.GetRsaKeyPair(parameters).Private;
        }
        finally
        {
            foreach (var secret in new[] { parameters.D, parameters.P, parameters.Q, parameters.DP, parameters.DQ, parameters.InverseQ })
                if (secret is not null) CryptographicOperations.ZeroMemory(secret);
        }
    }

    public void Dispose() => _rsa.Dispose();
}
