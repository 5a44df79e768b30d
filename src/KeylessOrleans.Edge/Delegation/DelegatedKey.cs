using System.Security.Cryptography;
using KeylessOrleans.Keys;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace KeylessOrleans.Edge.Delegation;

/// <summary>
/// A short-lived key of the edge's own, made for one delegated credential: the tenant's key server certifies its
/// public half, and the edge signs TLS 1.3 CertificateVerify with it locally. It lives only in this process's
/// memory and dies with the credential.
/// </summary>
internal abstract class DelegatedKey
{
    public abstract SignatureScheme Scheme { get; }

    public abstract byte[] SubjectPublicKeyInfo { get; }

    /// <summary>
    /// Signs the full CertificateVerify content as TLS 1.3 sends it, or the proof of possession a credential request
    /// carries (<see cref="DelegatedCredential.PossessionContent"/>) (ECDSA: DER; Ed25519: raw).
    /// </summary>
    public abstract byte[] Sign(byte[] content);

    public static DelegatedKey Create(SignatureScheme scheme) => scheme switch
    {
        SignatureScheme.EcdsaSecp256r1Sha256 => new Ecdsa(),
        SignatureScheme.Ed25519 => new Ed25519(),
        _ => throw new ArgumentOutOfRangeException(nameof(scheme), scheme, "delegated keys are ECDSA P-256 or Ed25519"),
    };

    private sealed class Ecdsa : DelegatedKey
    {
        // Not disposed on renewal: a handshake may still be signing with it; the finalizer frees it.
        private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        public override SignatureScheme Scheme => SignatureScheme.EcdsaSecp256r1Sha256;
        public override byte[] SubjectPublicKeyInfo => _key.ExportSubjectPublicKeyInfo();

        public override byte[] Sign(byte[] content) =>
            _key.SignData(content, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    /// <summary>.NET has no Ed25519; BouncyCastle makes and uses it.</summary>
    private sealed class Ed25519 : DelegatedKey
    {
        private readonly Ed25519PrivateKeyParameters _key;

        public Ed25519()
        {
            var generator = new Ed25519KeyPairGenerator();
            generator.Init(new Ed25519KeyGenerationParameters(new SecureRandom()));
            _key = (Ed25519PrivateKeyParameters)generator.GenerateKeyPair().Private;
            SubjectPublicKeyInfo = SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(_key.GeneratePublicKey()).GetDerEncoded();
        }

        public override SignatureScheme Scheme => SignatureScheme.Ed25519;
        public override byte[] SubjectPublicKeyInfo { get; }

        public override byte[] Sign(byte[] content)
        {
            var signer = new Ed25519Signer();
            signer.Init(true, _key);
            signer.BlockUpdate(content, 0, content.Length);
            return signer.GenerateSignature();
        }
    }
}
