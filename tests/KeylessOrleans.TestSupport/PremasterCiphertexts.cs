using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// RSA key-exchange ciphertexts of a chosen kind, made with the raw public key so any encoded message can be
/// encrypted: one well-padded premaster and every class of bad one a Bleichenbacher attacker would probe.
/// </summary>
public static class PremasterCiphertexts
{
    public const ushort Tls12 = 0x0303;

    public const string Good = "good padding";

    /// <summary>Kinds whose answer must be the implicit-rejection answer, never the embedded bytes.</summary>
    public static readonly string[] BadKinds =
    [
        "first byte 0x01",
        "block type 0x01",
        "block type 0x00",
        "no zero separator",
        "zero inside the padding (premaster longer than 48)",
        "separator one byte early (premaster of 49 bytes)",
        "separator one byte late (premaster of 47 bytes)",
        "wrong client version",
        "TLS 1.0 client version",
        "c equal to n",
        "c above n",
        "one byte short",
        "one byte long",
        "empty",
    ];

    /// <summary>The ciphertext of <paramref name="kind"/> under the RSA key <paramref name="spki"/>, and the 48 bytes its plaintext ends with.</summary>
    public static (byte[] Ciphertext, byte[] Embedded) Make(byte[] spki, string kind)
    {
        var publicKey = (RsaKeyParameters)PublicKeyFactory.CreateKey(spki);
        var k = (publicKey.Modulus.BitLength + 7) / 8;
        var modulus = publicKey.Modulus.ToByteArrayUnsigned();
        switch (kind)
        {
            case "c equal to n": return (modulus, []);
            case "c above n": return (Enumerable.Repeat((byte)0xFF, k).ToArray(), []);
            case "one byte short": return (RandomNumberGenerator.GetBytes(k - 1), []);
            case "one byte long": return (RandomNumberGenerator.GetBytes(k + 1), []);
            case "empty": return ([], []);
        }

        var em = new byte[k];
        em[1] = 0x02;
        var padding = em.AsSpan(2, k - 51);
        RandomNumberGenerator.Fill(padding);
        for (var i = 0; i < padding.Length; i++) if (padding[i] == 0) padding[i] = 0x5a;
        em[k - 48] = 0x03;
        em[k - 47] = 0x03;
        RandomNumberGenerator.Fill(em.AsSpan(k - 46));
        switch (kind)
        {
            case Good: break;
            case "first byte 0x01": em[0] = 0x01; break;
            case "block type 0x01": em[1] = 0x01; break;
            case "block type 0x00": em[1] = 0x00; break;
            case "no zero separator": em[k - 49] = 0x42; break;
            case "zero inside the padding (premaster longer than 48)": em[20] = 0x00; break;
            case "separator one byte early (premaster of 49 bytes)": em[k - 50] = 0x00; em[k - 49] = 0x03; break;
            case "separator one byte late (premaster of 47 bytes)": em[k - 49] = 0x03; em[k - 48] = 0x00; break;
            case "wrong client version": em[k - 47] = 0x04; break;
            case "TLS 1.0 client version": em[k - 47] = 0x01; break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown ciphertext kind");
        }

        // RSA moduli of whole bytes start at 0x80 or above, so every message here, "first byte 0x01" too, is below n.
        var engine = new RsaEngine();
        engine.Init(true, publicKey);
        var c = engine.ProcessBlock(em, 0, k);
        var ciphertext = new byte[k];
        c.CopyTo(ciphertext, k - c.Length);
        return (ciphertext, em[^48..]);
    }
}
