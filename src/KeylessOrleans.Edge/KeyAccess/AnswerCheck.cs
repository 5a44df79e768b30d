using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Keys;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace KeylessOrleans.Edge.KeyAccess;

/// <summary>
/// Checks what a key server returns against the public key of the certificate this edge serves, before the edge
/// uses it: a signature must verify over exactly the content the edge asked to be signed, a delegated credential
/// must certify exactly the key and schemes the edge asked for, under the certificate's key. A hostile or broken
/// key server could otherwise make the edge send garbage, or a signature by another key, in a client's handshake.
/// (A master secret cannot be checked here beyond its length; a wrong one fails at the client's Finished.)
/// </summary>
/// <remarks>
/// The parsed public key is kept per certificate array: the edge passes the same array (its
/// <see cref="Tls.ServerChain"/>'s) for every handshake with that chain, so a key is parsed once per chain,
/// and forgotten with the chain.
/// </remarks>
internal sealed class AnswerCheck
{
    private readonly ConditionalWeakTable<byte[], CertificateKey> _keys = new();

    /// <summary>
    /// Why <paramref name="output"/>, <paramref name="replica"/>'s Ok answer to <paramref name="request"/>, is unfit for
    /// use, or null when it is fit. A master secret cannot be checked without the key, only its length; an answer to a
    /// request this edge has no check for is never fit.
    /// </summary>
    public string? Problem(byte[] certificate, string replica, KeyRequest request, byte[] output) => request switch
    {
        SignCertificateVerifyRequest r => SignatureProblem(certificate, r.Scheme, r.SignedContent, output),
        SignServerKeyExchangeRequest r => SignatureProblem(certificate, r.Scheme, r.SignedParams, output),
        DeriveMasterSecretRequest => output.Length == Tls12MasterSecretLength ? null : $"a master secret of {output.Length} bytes",
        DelegateCredentialRequest r => CredentialProblem(certificate, r, output),
        ProvePossessionRequest r => SignatureProblem(certificate, r.Scheme,
            KeyPossession.SignedContent(new KeyGrainKey(r.Context.Tenant, replica, r.Context.KeyId), r.Challenge), output),
        _ => $"an answer to {request.Operation}, which this edge cannot check",
    };

    private const int Tls12MasterSecretLength = 48;

    /// <summary>Why <paramref name="signature"/> is not <paramref name="scheme"/>'s signature over <paramref name="content"/> by the certificate's key; null when it is.</summary>
    public string? SignatureProblem(byte[] certificate, SignatureScheme scheme, byte[] content, byte[] signature)
    {
        var key = KeyOf(certificate);
        if (key.Problem is not null) return key.Problem;
        bool verified;
        try
        {
            verified = key.Verify(scheme, content, signature);
        }
        catch (CryptographicException)
        {
            verified = false; // a malformed signature
        }
        return verified ? null : $"a {scheme} signature that does not verify under the certificate's public key";
    }

    /// <summary>Why <paramref name="encoded"/> is not a credential for exactly <paramref name="ask"/>, signed by the certificate's key; null when it is.</summary>
    public string? CredentialProblem(byte[] certificate, DelegateCredentialRequest ask, byte[] encoded) =>
        DelegatedCredential.Parse(encoded) switch
        {
            null => "something that is not a delegated credential",
            var p when !p.SubjectPublicKeyInfo.AsSpan().SequenceEqual(ask.DelegatedPublicKey) => "a delegated credential that certifies another key",
            var p when p.VerifyScheme != ask.DelegatedScheme || p.Algorithm != ask.Scheme => "a delegated credential that names other schemes than asked",
            var p => SignatureProblem(certificate, p.Algorithm, DelegatedCredential.SignedContent(certificate, p.Credential, p.Algorithm), p.Signature)
                is { } problem ? $"a delegated credential with {problem}" : null,
        };

    private CertificateKey KeyOf(byte[] certificate) => _keys.GetValue(certificate, CertificateKey.Parse);

    /// <summary>A certificate's public key, ready to verify; thread-safe (verification keeps no state in the key).</summary>
    private abstract class CertificateKey
    {
        public virtual string? Problem => null;

        public abstract bool Verify(SignatureScheme scheme, byte[] content, byte[] signature);

        public static CertificateKey Parse(byte[] der)
        {
            try
            {
                using var certificate = X509CertificateLoader.LoadCertificate(der);
                if (certificate.GetECDsaPublicKey() is { } ecdsa) return new Ecdsa(ecdsa);
                if (certificate.GetRSAPublicKey() is { } rsa) return new Rsa(rsa);
                if (certificate.PublicKey.Oid.Value == Ed25519Oid)
                    return new Ed25519(new Ed25519PublicKeyParameters(certificate.PublicKey.EncodedKeyValue.RawData));
                return new Unusable($"a certificate whose key ({certificate.PublicKey.Oid.Value}) the edge cannot verify with");
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                return new Unusable("a certificate the edge cannot parse");
            }
        }

        private const string Ed25519Oid = "1.3.101.112";

        /// <summary>The hash of a scheme, or null for a scheme of another key type.</summary>
        protected static HashAlgorithmName? Hash(SignatureScheme scheme, params SignatureScheme[] family) =>
            Array.IndexOf(family, scheme) switch
            {
                0 => HashAlgorithmName.SHA256,
                1 => HashAlgorithmName.SHA384,
                2 => HashAlgorithmName.SHA512,
                _ => null,
            };
    }

    private sealed class Ecdsa(ECDsa key) : CertificateKey
    {
        public override bool Verify(SignatureScheme scheme, byte[] content, byte[] signature) =>
            Hash(scheme, SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.EcdsaSecp384r1Sha384) is { } hash
            && key.VerifyData(content, signature, hash, DSASignatureFormat.Rfc3279DerSequence);
    }

    private sealed class Rsa(RSA key) : CertificateKey
    {
        public override bool Verify(SignatureScheme scheme, byte[] content, byte[] signature)
        {
            // RSASSA-PSS with the salt as long as the hash (RFC 8446 §4.2.3), which is .NET's Pss.
            if (Hash(scheme, SignatureScheme.RsaPssRsaeSha256, SignatureScheme.RsaPssRsaeSha384, SignatureScheme.RsaPssRsaeSha512) is { } pss)
                return key.VerifyData(content, signature, pss, RSASignaturePadding.Pss);
            return Hash(scheme, SignatureScheme.RsaPkcs1Sha256, SignatureScheme.RsaPkcs1Sha384, SignatureScheme.RsaPkcs1Sha512) is { } pkcs1
                && key.VerifyData(content, signature, pkcs1, RSASignaturePadding.Pkcs1);
        }
    }

    /// <summary>.NET has no Ed25519; BouncyCastle verifies it (a signer per call: the signer holds the message).</summary>
    private sealed class Ed25519(Ed25519PublicKeyParameters key) : CertificateKey
    {
        public override bool Verify(SignatureScheme scheme, byte[] content, byte[] signature)
        {
            if (scheme != SignatureScheme.Ed25519) return false;
            var verifier = new Ed25519Signer();
            verifier.Init(false, key);
            verifier.BlockUpdate(content, 0, content.Length);
            return verifier.VerifySignature(signature);
        }
    }

    private sealed class Unusable(string problem) : CertificateKey
    {
        public override string? Problem => problem;

        public override bool Verify(SignatureScheme scheme, byte[] content, byte[] signature) => false;
    }
}
