using System.Runtime.Versioning;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace KeylessOrleans.Edge.Tls.Crypto;

/// <summary>
/// BouncyCastle's TLS crypto with two parts from OpenSSL, where a profile of full TLS 1.3 handshakes found
/// BouncyCastle's managed code hot: X25519 (<see cref="LibCryptoX25519"/>, ~11 % of the edge's CPU) where it is there
/// and gives RFC 7748's answers, and SHA-256/SHA-384 through .NET (<see cref="OneShotSha2Digest"/>: the transcript,
/// HKDF, the TLS 1.2 PRF; ~6 %). Everything else is BouncyCastle's own.
/// </summary>
internal sealed class EdgeTlsCrypto(SecureRandom random) : BcTlsCrypto(random)
{
    /// <summary>Whether X25519 goes to OpenSSL in this process (checked once, against RFC 7748's test vector; Linux only).</summary>
    [SupportedOSPlatformGuard("linux")]
    public static bool UsesOpenSslX25519 { get; } = OpenSslX25519Works();

    public override TlsECDomain CreateECDomain(TlsECConfig ecConfig) =>
        ecConfig.NamedGroup == NamedGroup.x25519 && UsesOpenSslX25519
            ? new X25519Domain(this)
            : base.CreateECDomain(ecConfig);

    public override IDigest CreateDigest(int cryptoHashAlgorithm) => cryptoHashAlgorithm switch
    {
        CryptoHashAlgorithm.sha256 => OneShotSha2Digest.Sha256(),
        CryptoHashAlgorithm.sha384 => OneShotSha2Digest.Sha384(),
        _ => base.CreateDigest(cryptoHashAlgorithm),
    };

    public override IDigest CloneDigest(int cryptoHashAlgorithm, IDigest digest) =>
        digest is OneShotSha2Digest ours ? (IDigest)ours.Copy() : base.CloneDigest(cryptoHashAlgorithm, digest);

    [SupportedOSPlatform("linux")]
    private sealed class X25519Domain(TlsCrypto crypto) : TlsECDomain
    {
        public TlsAgreement CreateECDH() => new OpenSslX25519(crypto);
    }

    /// <summary>RFC 7748, section 6.1: Alice's and Bob's keys and their shared secret.</summary>
    private static bool OpenSslX25519Works()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            var alice = Convert.FromHexString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
            var bobPublic = Convert.FromHexString("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
            var alicePublic = new byte[LibCryptoX25519.Size];
            var shared = new byte[LibCryptoX25519.Size];
            using var key = LibCryptoX25519.NewPrivateKey(alice);
            LibCryptoX25519.PublicKey(key, alicePublic);
            return Convert.ToHexStringLower(alicePublic) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
                && LibCryptoX25519.Agree(key, bobPublic, shared)
                && Convert.ToHexStringLower(shared) == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }
}
