using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Edge.Routing;

/// <summary>
/// What an edge believes of a chain a tenant's key server announces: only what it checks itself. The names come from
/// the end-entity certificate (not from the announcement) and must all lie within the names the operator gave the
/// tenant; the key id and algorithm come from its public key; and the replica must sign a fresh challenge with that
/// key (<see cref="KeyPossession"/>, checked like every answer by <see cref="KeyAccess.AnswerCheck"/>) before any
/// handshake is served with it.
/// </summary>
internal static class ChainAdmission
{
    /// <summary>Most certificates a chain may have (end-entity first).</summary>
    public const int MaxChainLength = 8;

    /// <summary>Most chains one replica may announce; more are refused (a replica cannot make the edge prove without end).</summary>
    public const int MaxChainsPerReplica = 64;

    private const string Ed25519Oid = "1.3.101.112";

    /// <summary>
    /// The chain as this edge will serve it (names, key id, algorithm, expiry read from the certificate), or the reason
    /// it is refused. Possession is checked separately.
    /// </summary>
    public static (CertificateChainRegistration? Chain, string? Problem) Check(TenantSettings tenant, CertificateChainRegistration announced)
    {
        if (announced.ChainDer is not { Count: > 0 and <= MaxChainLength })
            return (null, $"a chain must have 1–{MaxChainLength} certificates");
        X509Certificate2 leaf;
        try
        {
            leaf = X509CertificateLoader.LoadCertificate(announced.ChainDer[0]);
        }
        catch (CryptographicException)
        {
            return (null, "the end-entity certificate cannot be parsed");
        }
        using (leaf)
        {
            var keyId = KeyIds.FromSubjectPublicKeyInfo(leaf.PublicKey.ExportSubjectPublicKeyInfo());
            if (announced.KeyId != keyId) return (null, $"key id {Short(announced.KeyId)} does not match the certificate's public key");
            if (AlgorithmOf(leaf) is not { } algorithm) return (null, $"the certificate's key ({leaf.PublicKey.Oid.FriendlyName ?? leaf.PublicKey.Oid.Value}) is of no supported type");
            var names = HostNames.Of(leaf);
            if (names.Count == 0) return (null, "the certificate names no DNS host");
            var outside = names.FirstOrDefault(name => !tenant.HostNames.Any(pattern => HostNames.Covers(pattern, name)));
            if (outside is not null)
                return (null, $"the certificate of key {Short(keyId)} covers {outside}, which tenant {tenant.Tenant} was not given (allowed: {string.Join(", ", tenant.HostNames)})");
            return (new CertificateChainRegistration(keyId, algorithm, [.. announced.ChainDer], names, leaf.NotAfter.ToUniversalTime()), null);
        }
    }

    /// <summary>A possession proof of <paramref name="context"/>'s key, in its scheme, over a fresh random challenge.</summary>
    public static ProvePossessionRequest PossessionRequest(KeyRequestContext context, KeyAlgorithm algorithm) =>
        new(context, PossessionScheme(algorithm), RandomNumberGenerator.GetBytes(KeyPossession.ChallengeLength));

    /// <summary>The scheme a possession proof is asked in, by the certificate's key.</summary>
    public static SignatureScheme PossessionScheme(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa => SignatureScheme.RsaPssRsaeSha256,
        KeyAlgorithm.EcdsaP384 => SignatureScheme.EcdsaSecp384r1Sha384,
        KeyAlgorithm.Ed25519 => SignatureScheme.Ed25519,
        _ => SignatureScheme.EcdsaSecp256r1Sha256,
    };

    private static KeyAlgorithm? AlgorithmOf(X509Certificate2 leaf)
    {
        if (leaf.PublicKey.Oid.Value == Ed25519Oid) return KeyAlgorithm.Ed25519;
        using (var rsa = leaf.GetRSAPublicKey())
            if (rsa is not null) return KeyAlgorithm.Rsa;
        using var ecdsa = leaf.GetECDsaPublicKey();
        return ecdsa?.KeySize switch
        {
            256 => KeyAlgorithm.EcdsaP256,
            384 => KeyAlgorithm.EcdsaP384,
            _ => null,
        };
    }

    private static string Short(string keyId) => keyId.Length > 16 ? keyId[..16] + "…" : keyId;
}
