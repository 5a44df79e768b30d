using System.Security.Cryptography;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>Turns one PEM private-key block into an <see cref="IPrivateKey"/>, with errors that say what is wrong.</summary>
internal static class PemKeyReader
{
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcPublicKeyOid = "1.2.840.10045.2.1";
    private const string Ed25519Oid = "1.3.101.112";

    public const int MinRsaBits = 2048, MaxRsaBits = 4096;

    public static bool IsPrivateKeyLabel(string label) => label.EndsWith("PRIVATE KEY", StringComparison.Ordinal);

    /// <exception cref="InvalidDataException">The block is not a usable key; the message says why.</exception>
    public static IPrivateKey Read(string label, byte[] der)
    {
        try
        {
            return label switch
            {
                "RSA PRIVATE KEY" => Rsa(r => r.ImportRSAPrivateKey(der, out _)),
                "EC PRIVATE KEY" => Ecdsa(e => e.ImportECPrivateKey(der, out _)),
                "PRIVATE KEY" => ReadPkcs8(der),
                "ENCRYPTED PRIVATE KEY" => throw new InvalidDataException("encrypted private keys are not supported; store it decrypted with mode 0600, or use a PKCS#11 token"),
                _ => throw new InvalidDataException($"'{label}' is not a supported private key type"),
            };
        }
        catch (CryptographicException e)
        {
            throw new InvalidDataException($"the {label} block is malformed ({e.Message})", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
        }
    }

    private static IPrivateKey ReadPkcs8(byte[] der)
    {
        PrivateKeyInfo info;
        try
        {
            info = PrivateKeyInfo.GetInstance(der);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidCastException)
        {
            throw new InvalidDataException("the PRIVATE KEY block is not valid PKCS#8", e);
        }

        return info.PrivateKeyAlgorithm.Algorithm.Id switch
        {
            RsaOid => Rsa(r => r.ImportPkcs8PrivateKey(der, out _)),
            EcPublicKeyOid => Ecdsa(e => e.ImportPkcs8PrivateKey(der, out _)),
            Ed25519Oid => new Ed25519PrivateKey((Ed25519PrivateKeyParameters)PrivateKeyFactory.CreateKey(info)),
            var oid => throw new InvalidDataException($"PKCS#8 key algorithm {oid} is not supported (RSA, ECDSA P-256/P-384 and Ed25519 are)"),
        };
    }

    private static IPrivateKey Rsa(Action<RSA> import)
    {
        // The key server runs on Linux: RSAOpenSsl gives OpenSSL's raw RSA for constant-time decryption.
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the key server runs on Linux (OpenSSL)");
        var rsa = new RSAOpenSsl();
        try
        {
            import(rsa);
            if (rsa.KeySize is < MinRsaBits or > MaxRsaBits)
                throw new InvalidDataException($"RSA key is {rsa.KeySize} bits; {MinRsaBits}–{MaxRsaBits} are supported");
            return new RsaPrivateKey(rsa);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    private static IPrivateKey Ecdsa(Action<ECDsa> import)
    {
        var ecdsa = ECDsa.Create();
        try
        {
            import(ecdsa);
            return new EcdsaPrivateKey(ecdsa);
        }
        catch (NotSupportedException e)
        {
            ecdsa.Dispose();
            throw new InvalidDataException(e.Message, e);
        }
        catch
        {
            ecdsa.Dispose();
            throw;
        }
    }
}
