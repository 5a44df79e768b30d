using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Delegation;

/// <summary>
/// Issues RFC 9345 delegated credentials. The edge names only a certificate of this key, its own public key, a
/// scheme and a validity; this class checks them against the certificate and the tenant's policy, builds the
/// Credential and its signed content itself (the delegated-credentials context string, so the signature can never
/// pass as a CertificateVerify or ServerKeyExchange one, and no CertificateVerify or ServerKeyExchange input can
/// pass as this) and signs that, nothing else.
/// </summary>
internal sealed class CredentialDelegation(IKeyStore store, IOptions<KeyServerOptions> options, KeyAccessPolicy policies, TimeProvider time)
{
    public KeyOperationResult Issue(string keyId, DelegateCredentialRequest request)
    {
        // The running policy (the tenant may change it while the key server runs); the key folder is fixed at start.
        var settings = options.Value;
        var policy = policies.Delegation;
        if (!store.TryGetKey(keyId, out var key)) return Failure(KeyOperationStatus.KeyNotFound, $"key {keyId} is not held here");
        if (!policy.Enabled) return Failure(KeyOperationStatus.Unauthorized, "this tenant does not issue delegated credentials");
        var revocation = Path.Combine(settings.KeyDirectory, policy.RevocationFile);
        if (File.Exists(revocation)) return Failure(KeyOperationStatus.Unauthorized, $"the tenant revoked delegated credentials ({revocation} exists)");
        if (key.Algorithm == KeyAlgorithm.Rsa && policies.Current.AllowRsaDecryption)
            return Invalid("an RSA key that also decrypts TLS 1.2 premasters may not delegate (RFC 9345 §7.6): switch off AllowRsaDecryption or delegate from an EC key");

        var certificate = store.ChainsOf(keyId).Select(c => c.EndEntity)
            .FirstOrDefault(c => SHA256.HashData(c.RawData).AsSpan().SequenceEqual(request.CertificateSha256));
        if (certificate is null) return Invalid("the named certificate is not one of this key's");
        if (CertificateProblem(certificate) is { } notDelegable) return Invalid(notDelegable);
        if (!TlsSignatureSchemes.ForTls13(key.Algorithm).Contains(request.Scheme))
            return Invalid($"a {key.Algorithm} key does not sign with {request.Scheme} in TLS 1.3");
        if (!policy.Schemes.Contains(request.DelegatedScheme))
            return Invalid($"{request.DelegatedScheme} is not among the tenant's delegated-credential schemes ({string.Join(", ", policy.Schemes)})");
        if (PublicKeyProblem(request.DelegatedScheme, request.DelegatedPublicKey) is { } badKey) return Invalid(badKey);
        var now = time.GetUtcNow();
        if (PossessionProblem(request, now, settings.Access.FreshnessWindow) is { } unproven) return Invalid(unproven);

        var validity = TimeSpan.FromSeconds(request.ValiditySeconds);
        if (validity <= TimeSpan.Zero || validity > policy.MaxValidity)
            return Invalid($"a validity of {validity} is not within the tenant's maximum of {policy.MaxValidity}");
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        if (now < notBefore || now >= notAfter) return Invalid("the certificate is not valid now");
        var expiry = now + validity < notAfter ? now + validity : notAfter; // never beyond the certificate
        var validTime = (uint)(expiry - notBefore).TotalSeconds;

        var credential = DelegatedCredential.EncodeCredential(validTime, request.DelegatedScheme, request.DelegatedPublicKey);
        var content = DelegatedCredential.SignedContent(certificate.RawData, credential, request.Scheme);
        try
        {
            return KeyOperationResult.Success(DelegatedCredential.Encode(credential, request.Scheme, key.Sign(request.Scheme, content)));
        }
        catch (CryptographicException e)
        {
            return Failure(KeyOperationStatus.CryptoFailed, $"signing failed: {e.Message}");
        }
    }

    /// <summary>RFC 9345 §4.2: the certificate must carry DelegationUsage and allow digitalSignature.</summary>
    private static string? CertificateProblem(X509Certificate2 certificate)
    {
        if (certificate.Extensions[DelegatedCredential.DelegationUsageOid] is null)
            return "the certificate has no DelegationUsage extension (1.3.6.1.4.1.44363.44): its issuer did not allow delegation";
        return certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage && usage.KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature)
            ? null
            : "the certificate's key usage does not include digitalSignature";
    }

    /// <summary>The edge's key must be a well-formed public key of exactly the scheme's type.</summary>
    private static string? PublicKeyProblem(SignatureScheme scheme, byte[] subjectPublicKeyInfo)
    {
        try
        {
            switch (scheme)
            {
                case SignatureScheme.EcdsaSecp256r1Sha256 or SignatureScheme.EcdsaSecp384r1Sha384:
                    using (var ecdsa = ECDsa.Create())
                    {
                        ecdsa.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out var read);
                        var curve = ecdsa.ExportParameters(false).Curve.Oid.Value;
                        var expected = scheme == SignatureScheme.EcdsaSecp256r1Sha256 ? "1.2.840.10045.3.1.7" : "1.3.132.0.34";
                        if (read != subjectPublicKeyInfo.Length || curve != expected) return $"the delegated public key is not a {scheme} key";
                    }
                    return null;
                case SignatureScheme.Ed25519:
                    var info = Org.BouncyCastle.Asn1.X509.SubjectPublicKeyInfo.GetInstance(subjectPublicKeyInfo);
                    return info.Algorithm.Algorithm.Id == "1.3.101.112" && info.PublicKey.GetOctets().Length == 32
                        && info.GetDerEncoded().AsSpan().SequenceEqual(subjectPublicKeyInfo)
                        ? null
                        : "the delegated public key is not an Ed25519 key";
                default:
                    return $"{scheme} cannot be a delegated credential's scheme";
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or InvalidOperationException or IOException)
        {
            return "the delegated public key does not parse";
        }
    }

    /// <summary>
    /// The edge must show it holds the delegated private key: its signature, made recently, over this very request's
    /// certificate, scheme, key and validity (<see cref="DelegatedCredential.PossessionContent"/>).
    /// </summary>
    private static string? PossessionProblem(DelegateCredentialRequest request, DateTimeOffset now, TimeSpan window)
    {
        if (request.PossessionSignature is not { Length: > 0 } signature)
            return "the request does not prove possession of the delegated key (no possession signature)";
        var skew = now - DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(request.PossessionTime, 0, DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()));
        if (skew.Duration() > window)
            return $"the delegated key's possession proof is {skew.TotalSeconds:0.0} s off (window {window.TotalSeconds:0} s)";
        var content = DelegatedCredential.PossessionContent(
            request.CertificateSha256, request.DelegatedScheme, request.DelegatedPublicKey, request.ValiditySeconds, request.PossessionTime);
        try
        {
            switch (request.DelegatedScheme)
            {
                case SignatureScheme.EcdsaSecp256r1Sha256 or SignatureScheme.EcdsaSecp384r1Sha384:
                    using (var ecdsa = ECDsa.Create())
                    {
                        ecdsa.ImportSubjectPublicKeyInfo(request.DelegatedPublicKey, out _);
                        var hash = request.DelegatedScheme == SignatureScheme.EcdsaSecp256r1Sha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384;
                        if (ecdsa.VerifyData(content, signature, hash, DSASignatureFormat.Rfc3279DerSequence)) return null;
                    }
                    break;
                case SignatureScheme.Ed25519:
                    var key = (Org.BouncyCastle.Crypto.Parameters.Ed25519PublicKeyParameters)Org.BouncyCastle.Security.PublicKeyFactory.CreateKey(request.DelegatedPublicKey);
                    var verifier = new Org.BouncyCastle.Crypto.Signers.Ed25519Signer();
                    verifier.Init(false, key);
                    verifier.BlockUpdate(content, 0, content.Length);
                    if (verifier.VerifySignature(signature)) return null;
                    break;
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or InvalidCastException)
        {
            // Falls through to the refusal: a malformed signature proves nothing.
        }
        return "the delegated key's possession proof does not verify: the edge did not show it holds that key";
    }

    private static KeyOperationResult Invalid(string problem) => Failure(KeyOperationStatus.InvalidRequest, problem);

    private static KeyOperationResult Failure(KeyOperationStatus status, string detail) => KeyOperationResult.Failure(status, detail);
}
