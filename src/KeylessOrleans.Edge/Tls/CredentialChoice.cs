using KeylessOrleans.Edge.Delegation;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Org.BouncyCastle.Tls;
using BcScheme = Org.BouncyCastle.Tls.SignatureScheme;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// Which of the name's keys (and so which certificate) serves this ClientHello and with which signature scheme, or
/// which delegated credential serves it instead of the key server. Only the choice: <see cref="KeylessTlsServer"/>
/// makes BouncyCastle's credentials from it. Indexed loops over the route's keys: these run several times in every
/// handshake, and enumerating an IReadOnlyList or capturing a lambda allocates.
/// </summary>
internal static class CredentialChoice
{
    /// <summary>The key preferred in TLS 1.3 when the client can verify several.</summary>
    private static readonly KeyAlgorithm[] Tls13Preference = [KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.Ed25519, KeyAlgorithm.Rsa];

    /// <summary>
    /// TLS 1.2 ECDHE_ECDSA keys in preference order, each with the curve the client's supported_groups must list
    /// (RFC 8422 §5.1). Ed25519 (RFC 8422 §5.1.1) is chosen by signature_algorithms alone (-1); it comes after the
    /// ECDSA curves because fewer TLS 1.2 clients verify it.
    /// </summary>
    private static readonly (KeyAlgorithm Algorithm, int Curve)[] Tls12EcdsaPreference =
        [(KeyAlgorithm.EcdsaP256, NamedGroup.secp256r1), (KeyAlgorithm.EcdsaP384, NamedGroup.secp384r1), (KeyAlgorithm.Ed25519, -1)];

    /// <summary>The name's key of this algorithm; a name has at most one per algorithm.</summary>
    public static KeyRoute? Key(EdgeRoute? route, KeyAlgorithm algorithm)
    {
        if (route is null) return null;
        var keys = route.Keys.Keys;
        for (var i = 0; i < keys.Count; i++)
        {
            if (keys[i].Algorithm == algorithm) return keys[i];
        }
        return null;
    }

    /// <summary>The TLS 1.3 key and CertificateVerify scheme: the first preferred key with a scheme the client verifies; null when none.</summary>
    public static (KeyRoute Key, SignatureAndHashAlgorithm Scheme)? Tls13Key(EdgeRoute? route, IList<SignatureAndHashAlgorithm>? clientSigAlgs)
    {
        foreach (var algorithm in Tls13Preference)
        {
            if (Key(route, algorithm) is { } key && SignatureSelection.Select(algorithm, true, clientSigAlgs) is { } scheme) return (key, scheme);
        }
        return null;
    }

    /// <summary>
    /// RFC 9345 §4.1.1: the delegated credential of the first preferred key that has one whose algorithm (how the
    /// certificate's key signed it) is in the client's signature_algorithms and whose CertificateVerify scheme is in
    /// the client's delegated_credential list (<paramref name="accepted"/>). Asking <paramref name="delegation"/>
    /// starts issuing a credential when one is due, for the next handshakes; this one then goes the keyless way.
    /// </summary>
    public static (ServerChain Chain, IssuedCredential Credential)? Delegated(
        EdgeRoute route, int[] accepted, IList<SignatureAndHashAlgorithm> clientSigAlgs, string host, ServerChainCache chains, DelegatedCredentials delegation)
    {
        foreach (var algorithm in Tls13Preference)
        {
            if (Key(route, algorithm) is not { } key) continue;
            var chain = chains.For(key);
            if (delegation.Current(route.TenantName, key, chain, host) is not { } credential) continue;
            if (!Lists(clientSigAlgs, (int)credential.Algorithm)) continue;
            if (Array.IndexOf(accepted, (int)credential.Key.Scheme) < 0) continue;
            return (chain, credential);
        }
        return null;
    }

    /// <summary>Whether this name has a key that can serve the TLS 1.2 key exchange for this client.</summary>
    public static bool CanServe(int keyExchangeAlgorithm, EdgeRoute? route, int[]? clientGroups, IList<SignatureAndHashAlgorithm>? clientSigAlgs) =>
        keyExchangeAlgorithm switch
        {
            KeyExchangeAlgorithm.NULL => true,
            KeyExchangeAlgorithm.ECDHE_ECDSA => Tls12EcdsaKey(route, clientGroups, clientSigAlgs) is not null,
            KeyExchangeAlgorithm.ECDHE_RSA or KeyExchangeAlgorithm.DHE_RSA => Tls12RsaKey(route, clientSigAlgs) is not null,
            KeyExchangeAlgorithm.RSA => route?.Tenant.AllowRsaKeyExchange == true && Key(route, KeyAlgorithm.Rsa) is not null,
            _ => false,
        };

    /// <summary>The TLS 1.2 ECDHE_ECDSA key and ServerKeyExchange scheme (<see cref="Tls12EcdsaPreference"/>); null when none fits.</summary>
    public static (KeyRoute Key, SignatureAndHashAlgorithm Scheme)? Tls12EcdsaKey(EdgeRoute? route, int[]? clientGroups, IList<SignatureAndHashAlgorithm>? clientSigAlgs)
    {
        foreach (var (algorithm, curve) in Tls12EcdsaPreference)
        {
            if (Key(route, algorithm) is not { } key) continue;
            if (curve >= 0 && clientGroups is not null && Array.IndexOf(clientGroups, curve) < 0) continue;
            if (SignatureSelection.Select(algorithm, false, clientSigAlgs) is { } scheme) return (key, scheme);
        }
        return null;
    }

    /// <summary>The TLS 1.2 ECDHE_RSA and DHE_RSA key and ServerKeyExchange scheme; null when none fits.</summary>
    public static (KeyRoute Key, SignatureAndHashAlgorithm Scheme)? Tls12RsaKey(EdgeRoute? route, IList<SignatureAndHashAlgorithm>? clientSigAlgs) =>
        Key(route, KeyAlgorithm.Rsa) is { } key && SignatureSelection.Select(KeyAlgorithm.Rsa, false, clientSigAlgs) is { } scheme
            ? (key, scheme)
            : null;

    /// <summary>RFC 9345 §4.1.1: the client's delegated_credential extension, a SignatureSchemeList; null when absent.</summary>
    public static int[]? AcceptedDelegationSchemes(IDictionary<int, byte[]> clientExtensions)
    {
        if (TlsUtilities.GetExtensionData(clientExtensions, DelegatedCredential.ExtensionType) is not { } data) return null;
        if (data.Length < 4 || data.Length % 2 != 0 || (data[0] << 8 | data[1]) != data.Length - 2)
            throw new TlsFatalAlert(AlertDescription.decode_error, "malformed delegated_credential extension");
        var schemes = new int[(data.Length - 2) / 2];
        for (var i = 0; i < schemes.Length; i++) schemes[i] = data[2 + 2 * i] << 8 | data[3 + 2 * i];
        return schemes;
    }

    private static bool Lists(IList<SignatureAndHashAlgorithm> clientSigAlgs, int scheme)
    {
        for (var i = 0; i < clientSigAlgs.Count; i++)
        {
            if (BcScheme.From(clientSigAlgs[i]) == scheme) return true;
        }
        return false;
    }
}
