using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.TestSupport;

/// <summary>A freshly generated private key, with the secrets tests need to prove that none of them leaks.</summary>
public sealed class TestKey
{
    public required string Kind { get; init; }
    public required byte[] SubjectPublicKeyInfo { get; init; }
    public required byte[] Pkcs8 { get; init; }
    public required string PemLabel { get; init; }
    public required byte[] PemDer { get; init; }

    /// <summary>Raw secret values: d, p, q for RSA; the private scalar for EC; the seed for Ed25519.</summary>
    public required IReadOnlyList<byte[]> Secrets { get; init; }

    public string Pem => PemEncoding.WriteString(PemLabel, PemDer);

    /// <summary>The public key in the form a certificate request takes.</summary>
    public PublicKey CertificatePublicKey => PublicKey.CreateFromSubjectPublicKeyInfo(SubjectPublicKeyInfo, out _);
}

public static class TestKeys
{
    public enum Format { Pkcs1, Sec1, Pkcs8 }

    public static (TestKey Key, RSA Rsa) Rsa(int bits = 2048, Format format = Format.Pkcs8)
    {
        var rsa = RSA.Create(bits);
        var p = rsa.ExportParameters(true);
        var key = new TestKey
        {
            Kind = $"rsa{bits}",
            SubjectPublicKeyInfo = rsa.ExportSubjectPublicKeyInfo(),
            Pkcs8 = rsa.ExportPkcs8PrivateKey(),
            PemLabel = format == Format.Pkcs1 ? "RSA PRIVATE KEY" : "PRIVATE KEY",
            PemDer = format == Format.Pkcs1 ? rsa.ExportRSAPrivateKey() : rsa.ExportPkcs8PrivateKey(),
            Secrets = [p.D!, p.P!, p.Q!],
        };
        return (key, rsa);
    }

    public static (TestKey Key, ECDsa Ecdsa) Ecdsa(ECCurve curve, Format format = Format.Pkcs8)
    {
        var ecdsa = System.Security.Cryptography.ECDsa.Create(curve);
        var key = new TestKey
        {
            Kind = $"ecdsa-{curve.Oid.FriendlyName}",
            SubjectPublicKeyInfo = ecdsa.ExportSubjectPublicKeyInfo(),
            Pkcs8 = ecdsa.ExportPkcs8PrivateKey(),
            PemLabel = format == Format.Sec1 ? "EC PRIVATE KEY" : "PRIVATE KEY",
            PemDer = format == Format.Sec1 ? ecdsa.ExportECPrivateKey() : ecdsa.ExportPkcs8PrivateKey(),
            Secrets = [ecdsa.ExportParameters(true).D!],
        };
        return (key, ecdsa);
    }

    public static (TestKey Key, Ed25519PublicKeyParameters Public) Ed25519()
    {
        var generator = new Ed25519KeyPairGenerator();
        generator.Init(new Ed25519KeyGenerationParameters(new SecureRandom()));
        var pair = generator.GenerateKeyPair();
        var priv = (Ed25519PrivateKeyParameters)pair.Private;
        var pub = (Ed25519PublicKeyParameters)pair.Public;
        var pkcs8 = PrivateKeyInfoFactory.CreatePrivateKeyInfo(priv).GetDerEncoded();
        var spki = Org.BouncyCastle.X509.SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(pub).GetDerEncoded();
        var key = new TestKey
        {
            Kind = "ed25519",
            SubjectPublicKeyInfo = spki,
            Pkcs8 = pkcs8,
            PemLabel = "PRIVATE KEY",
            PemDer = pkcs8,
            Secrets = [priv.GetEncoded()],
        };
        return (key, pub);
    }
}
