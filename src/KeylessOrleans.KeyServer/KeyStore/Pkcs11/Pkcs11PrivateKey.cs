using System.Formats.Asn1;
using System.Security.Cryptography;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace KeylessOrleans.KeyServer.KeyStore.Pkcs11;

/// <summary>
/// A private key that lives in a PKCS#11 token: signing, raw RSA and the implicit-rejection HMAC run inside the
/// token; this process only ever holds the public key and object handles.
/// </summary>
/// <param name="label">The private key's CKA_LABEL (names it in errors and finds its implicit-rejection key).</param>
/// <param name="rsaPublic">RSA keys only: modulus and exponent.</param>
/// <param name="implicitRejectionKey">RSA keys only: the key's <see cref="Pkcs11ImplicitRejectionKey"/>; without it decryption is refused.</param>
internal sealed class Pkcs11PrivateKey(
    Pkcs11Token token, IObjectHandle handle, string label, KeyAlgorithm algorithm, int keySizeBits, byte[] subjectPublicKeyInfo,
    RSAParameters? rsaPublic, IObjectHandle? implicitRejectionKey) : IPrivateKey
{
    public string KeyId { get; } = KeyIds.FromSubjectPublicKeyInfo(subjectPublicKeyInfo);
    public KeyAlgorithm Algorithm => algorithm;
    public int KeySizeBits => keySizeBits;
    public byte[] SubjectPublicKeyInfo => subjectPublicKeyInfo;

    public byte[] Sign(SignatureScheme scheme, ReadOnlySpan<byte> data)
    {
        var input = data.ToArray();
        try
        {
            return algorithm switch
            {
                KeyAlgorithm.Rsa => token.Use(session => session.Sign(RsaMechanism(scheme), handle, input)),
                KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 => EcdsaSign(scheme, input),
                _ => throw new CryptographicException($"{algorithm} keys are not supported in PKCS#11 tokens"),
            };
        }
        catch (Pkcs11Exception e)
        {
            throw new CryptographicException($"PKCS#11 token '{token.Label}' refused to sign: {e.RV}", e);
        }
    }

    /// <summary>
    /// Raw RSA in the token (CKM_RSA_X_509), then the same masked unpadding as the PEM store: a badly padded
    /// ciphertext takes exactly the success path. The answer for a bad ciphertext is HMAC-SHA256 in the token under
    /// the key's implicit-rejection secret (<see cref="Pkcs11ImplicitRejectionKey"/>), computed for every ciphertext,
    /// so the same ciphertext always gets the same answer. Length and c &lt; n are public and checked first, so the
    /// only token errors left are about the token, not the ciphertext.
    /// </summary>
    /// <exception cref="CryptographicException">The token failed, or this RSA key has no implicit-rejection key in
    /// the token: then every decryption is refused, whatever the ciphertext.</exception>
    public byte[] DecryptPremaster(ReadOnlySpan<byte> ciphertext, ushort clientVersion)
    {
        if (rsaPublic is not { } publicKey) throw new NotSupportedException("only RSA keys decrypt");
        if (implicitRejectionKey is null)
            throw new CryptographicException(
                $"PKCS#11 key '{label}' on token '{token.Label}' has no implicit-rejection key '{Pkcs11ImplicitRejectionKey.LabelFor(label)}': " +
                "RSA decryption is refused (create it at onboarding, or set Keyless:KeyServer:Pkcs11CreateImplicitRejectionKeys=true)");
        var modulusLength = publicKey.Modulus!.Length;
        var inRange = ciphertext.Length == modulusLength && ciphertext.SequenceCompareTo(publicKey.Modulus) < 0;
        var hmacInput = ImplicitRejection.HmacInput(ciphertext);
        var input = ciphertext.ToArray();
        var hmac = token.Factories.MechanismFactory.Create(CKM.CKM_SHA256_HMAC);
        var rawRsa = token.Factories.MechanismFactory.Create(CKM.CKM_RSA_X_509);
        byte[] prk = [];
        byte[]? raw;
        try
        {
            raw = token.Use(session =>
            {
                prk = session.Sign(hmac, implicitRejectionKey, hmacInput);
                if (!inRange) return null;
                try
                {
                    return session.Decrypt(rawRsa, handle, input);
                }
                catch (Pkcs11Exception e) when (e.RV is CKR.CKR_ENCRYPTED_DATA_INVALID or CKR.CKR_ENCRYPTED_DATA_LEN_RANGE)
                {
                    return null; // fails the padding check below, like any bad ciphertext
                }
            });
        }
        catch (Pkcs11Exception e)
        {
            CryptographicOperations.ZeroMemory(prk);
            throw new CryptographicException($"PKCS#11 token '{token.Label}' could not decrypt: {e.RV}", e);
        }

        var premaster = new byte[PremasterUnpadding.PremasterLength];
        var fallback = new byte[PremasterUnpadding.PremasterLength];
        var encoded = new byte[modulusLength];
        try
        {
            ImplicitRejection.Expand(prk, fallback);
            if (raw is not null)
            {
                var length = Math.Min(raw.Length, modulusLength);
                raw.AsSpan(0, length).CopyTo(encoded.AsSpan(modulusLength - length));
            }
            PremasterUnpadding.Unpad(encoded, clientVersion, fallback, premaster);
            return premaster;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prk);
            CryptographicOperations.ZeroMemory(fallback);
            CryptographicOperations.ZeroMemory(encoded);
            if (raw is not null) CryptographicOperations.ZeroMemory(raw);
        }
    }

    private IMechanism RsaMechanism(SignatureScheme scheme)
    {
        var factory = token.Factories.MechanismFactory;
        if (!TlsHashes.IsPss(scheme))
        {
            return factory.Create(scheme switch
            {
                SignatureScheme.RsaPkcs1Sha256 => CKM.CKM_SHA256_RSA_PKCS,
                SignatureScheme.RsaPkcs1Sha384 => CKM.CKM_SHA384_RSA_PKCS,
                SignatureScheme.RsaPkcs1Sha512 => CKM.CKM_SHA512_RSA_PKCS,
                _ => throw new CryptographicException($"scheme {scheme} is not an RSA scheme"),
            });
        }
        var (mechanism, hash, mgf, saltLength) = scheme switch
        {
            SignatureScheme.RsaPssRsaeSha256 => (CKM.CKM_SHA256_RSA_PKCS_PSS, CKM.CKM_SHA256, CKG.CKG_MGF1_SHA256, 32UL),
            SignatureScheme.RsaPssRsaeSha384 => (CKM.CKM_SHA384_RSA_PKCS_PSS, CKM.CKM_SHA384, CKG.CKG_MGF1_SHA384, 48UL),
            _ => (CKM.CKM_SHA512_RSA_PKCS_PSS, CKM.CKM_SHA512, CKG.CKG_MGF1_SHA512, 64UL),
        };
        var parameters = token.Factories.MechanismParamsFactory.CreateCkRsaPkcsPssParams(
            ConvertUtils.UInt64FromCKM(hash), ConvertUtils.UInt64FromCKG(mgf), saltLength);
        return factory.Create(mechanism, parameters);
    }

    /// <summary>The token signs the digest (CKM_ECDSA) and answers r ‖ s; TLS wants a DER SEQUENCE.</summary>
    private byte[] EcdsaSign(SignatureScheme scheme, byte[] data)
    {
        var digest = TlsHashes.Of(scheme).Name switch
        {
            "SHA384" => SHA384.HashData(data),
            _ => SHA256.HashData(data),
        };
        var raw = token.Use(session => session.Sign(token.Factories.MechanismFactory.Create(CKM.CKM_ECDSA), handle, digest));
        var half = raw.Length / 2;
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteIntegerUnsigned(Minimal(raw.AsSpan(0, half)));
            writer.WriteIntegerUnsigned(Minimal(raw.AsSpan(half)));
        }
        return writer.Encode();
    }

    private static ReadOnlySpan<byte> Minimal(ReadOnlySpan<byte> value)
    {
        var start = 0;
        while (start < value.Length - 1 && value[start] == 0) start++;
        return value[start..];
    }

    /// <summary>The token and its sessions belong to the key set that loaded this key.</summary>
    public void Dispose() { }
}
