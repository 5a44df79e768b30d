using System.Reflection;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Tests;

/// <summary>
/// What a key server offers over the cluster is exactly the three TLS operations, the issuance of RFC 9345 delegated
/// credentials, edge sessions (for cheaper edge proofs) and a public description: no "sign these bytes", no "sign this digest", no raw RSA. Any new grain
/// method or request field shows up here.
/// </summary>
/// <remarks>
/// Delegation takes no content to sign: only fields (certificate hash, schemes, a public key that must parse as the
/// scheme's key type, a validity) from which the key server builds the Credential and its signed content itself,
/// behind the delegated-credentials context string. That content starts with 64 spaces and a context string no
/// other operation's validator accepts, so a credential signature is never a CertificateVerify or
/// ServerKeyExchange signature, and neither of those is ever a credential signature
/// (CredentialDelegationTests checks both ways).
/// Opening an edge session signs nothing with a tenant key: the key server checks the edge's certificate and its
/// signature, makes an ephemeral P-256 key of its own and answers with that public key, a random id and an expiry;
/// the session key is derived by ECDH on both sides. The only edge-chosen bytes are its own ephemeral public key,
/// which must parse as P-256, and the proof fields (EdgeSessionTests).
/// A possession proof (how an edge learns that a replica holds the key of a chain it announces) signs content the key
/// server builds itself: 64 spaces, a context string of its own, the key grain's identity and the edge's 32-byte
/// challenge. Neither TLS validator accepts it (below), so its signature is never a CertificateVerify or a
/// ServerKeyExchange signature, and those contents are never possession content.
/// </remarks>
public sealed class NoOracleSurfaceTests
{
    [Fact]
    public void The_key_grain_offers_only_the_three_tls_operations_delegation_edge_sessions_and_a_description()
    {
        var methods = typeof(IKeyGrain).GetMethods().Select(m => m.Name).Order().ToList();
        Assert.Equal(["DescribeAsync", "OpenEdgeSessionAsync", "PerformAsync"], methods);
        Assert.Equal([typeof(KeyRequest), typeof(CancellationToken)], Parameters(nameof(IKeyGrain.PerformAsync)));
        Assert.Equal([typeof(EdgeSessionRequest), typeof(CancellationToken)], Parameters(nameof(IKeyGrain.OpenEdgeSessionAsync)));
        // The operations are the key request types of the contract, and only these.
        var operations = typeof(KeyRequest).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(KeyRequest))).Select(t => t.Name).Order().ToList();
        Assert.Equal(["DelegateCredentialRequest", "DeriveMasterSecretRequest", "ProvePossessionRequest", "SignCertificateVerifyRequest", "SignServerKeyExchangeRequest"], operations);
        Assert.Equal([typeof(CancellationToken)], Parameters(nameof(IKeyGrain.DescribeAsync)));
    }

    [Fact]
    public void Requests_carry_tls_structures_not_digests()
    {
        string[] Fields(Type type) => type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttributes().Any(a => a.GetType().Name == "IdAttribute")).Select(p => p.Name).Order().ToArray();
        Assert.Equal(["Context", "Proof", "Scheme", "SignedContent"], Fields(typeof(SignCertificateVerifyRequest)));
        Assert.Equal(["Context", "Proof", "Scheme", "SignedParams"], Fields(typeof(SignServerKeyExchangeRequest)));
        Assert.Equal(["Context", "Exchange", "Proof"], Fields(typeof(DeriveMasterSecretRequest)));
        Assert.Equal(["ClientRandom", "ClientVersion", "EncryptedPremaster", "Prf", "ServerRandom", "Transcript"], Fields(typeof(RsaKeyExchange)));
        Assert.Equal(["CertificateSha256", "Context", "DelegatedPublicKey", "DelegatedScheme", "PossessionSignature", "PossessionTime", "Proof", "Scheme", "ValiditySeconds"],
            Fields(typeof(DelegateCredentialRequest)));
        Assert.Equal(["Certificate", "EdgePublicKey", "Nonce", "Signature", "UnixTimeMilliseconds"], Fields(typeof(EdgeSessionRequest)));
        Assert.Equal(["Challenge", "Context", "Proof", "Scheme"], Fields(typeof(ProvePossessionRequest)));
        Assert.Equal(["Certificate", "Nonce", "Session", "Signature", "UnixTimeMilliseconds"], Fields(typeof(EdgeProof)));
    }

    [Fact]
    public void Possession_content_is_no_tls_structure_the_key_server_would_sign()
    {
        var content = KeyPossession.SignedContent(new KeyGrainKey("acme", "primary", new string('a', 64)), new byte[KeyPossession.ChallengeLength]);

        Assert.NotNull(KeylessOrleans.KeyServer.Tls.CertificateVerifyContent.Validate(content));
        Assert.NotNull(KeylessOrleans.KeyServer.Tls.ServerKeyExchangeParams.Validate(content));
        Assert.Throws<ArgumentException>(() => KeyPossession.SignedContent(new KeyGrainKey("acme", "primary", "k"), new byte[16])); // only a full challenge
    }

    [Fact]
    public void No_other_grain_interface_takes_bytes()
    {
        var grainInterfaces = typeof(IKeyGrain).Assembly.GetTypes()
            .Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t) && t != typeof(IKeyGrain)).ToList();
        Assert.Contains(typeof(KeylessOrleans.Registry.IRegistryGrain), grainInterfaces);
        var takingBytes = grainInterfaces
            .SelectMany(t => t.GetMethods().Select(m => (t, m)))
            .Where(x => x.m.GetParameters().Any(p => p.ParameterType == typeof(byte[])))
            .Select(x => $"{x.t.Name}.{x.m.Name}")
            .ToList();
        Assert.Empty(takingBytes);
    }

    private static Type[] Parameters(string method) =>
        typeof(IKeyGrain).GetMethod(method)!.GetParameters().Select(p => p.ParameterType).ToArray();
}
