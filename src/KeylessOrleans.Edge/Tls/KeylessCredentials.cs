using System.Security.Cryptography;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Keys;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// Signing credentials whose private key lives on the tenant's key server. BouncyCastle asks for a stream
/// signer first and writes the full signed content into it (TLS 1.3: 64 spaces ‖ context ‖ 0 ‖ transcript
/// hash; TLS 1.2: randoms ‖ ECDH or DH params), which the key server validates before signing. We never offer the
/// bare-digest path (<see cref="GenerateRawSignature"/>): the key server does not sign digests.
/// </summary>
internal sealed class KeylessSigner(
    Certificate certificate,
    SignatureAndHashAlgorithm algorithm,
    bool tls13,
    KeyCall call,
    KeyRequestContext context,
    IKeyOperationGateway gateway,
    HandshakeFacts facts) : TlsCredentialedSigner
{
    public Certificate Certificate => certificate;

    public SignatureAndHashAlgorithm SignatureAndHashAlgorithm => algorithm;

    public TlsStreamSigner GetStreamSigner() => new ContentCollector(this);

    public byte[] GenerateRawSignature(byte[] hash) =>
        throw new TlsFatalAlert(AlertDescription.internal_error, "bare-digest signing is not offered");

    private byte[] Sign(byte[] content)
    {
        facts.KeyCalls++;
        var scheme = SignatureSelection.ToKeyScheme(algorithm);
        KeyRequest request = tls13
            ? new SignCertificateVerifyRequest(context, scheme, content)
            : new SignServerKeyExchangeRequest(context, scheme, content);
        var result = gateway.Perform(call, request);
        if (result.IsOk) return result.Output!;
        facts.KeyFailure = result.Status;
        facts.KeyFailureDetail = result.Detail;
        throw new TlsFatalAlert(TlsAlerts.For(result.Status), $"key server: {result.Status}");
    }

    /// <summary>BouncyCastle disposes the stream before asking for the signature; MemoryStream.ToArray still works then.</summary>
    private sealed class ContentCollector(KeylessSigner owner) : TlsStreamSigner
    {
        private readonly MemoryStream _content = new(256);

        public Stream Stream => _content;

        public byte[] GetSignature() => owner.Sign(_content.ToArray());
    }
}

/// <summary>
/// TLS 1.2 RSA key exchange with the key on the tenant's key server. The premaster never comes to the edge: the
/// "premaster" BouncyCastle gets here is a <see cref="KeyServerPremaster"/>, and the one thing BouncyCastle does with
/// it — derive the master secret through the PRF — is done by the key server.
/// </summary>
internal sealed class KeylessDecryptor(
    Certificate certificate,
    TlsCrypto crypto,
    KeyCall call,
    KeyRequestContext context,
    IKeyOperationGateway gateway,
    HandshakeTranscript transcript,
    HandshakeFacts facts) : TlsCredentialedDecryptor
{
    public Certificate Certificate => certificate;

    public TlsSecret Decrypt(TlsCryptoParameters cryptoParams, byte[] ciphertext)
    {
        facts.KeyCalls++;
        var parameters = cryptoParams.SecurityParameters;
        return new KeyServerPremaster(crypto, call, context, gateway, transcript, facts, ciphertext,
            (ushort)cryptoParams.RsaPreMasterSecretVersion.FullVersion, parameters.ClientRandom, parameters.ServerRandom);
    }
}

/// <summary>
/// A premaster secret that stays on the key server. BouncyCastle derives the master secret from it right after
/// the ClientKeyExchange (with the randoms, or with the session hash under extended master secret) and then destroys
/// it; that derivation becomes one key-server call, which answers only the master secret. Anything else asked of this
/// secret is refused: nothing on the edge needs the premaster itself.
/// </summary>
internal sealed class KeyServerPremaster(
    TlsCrypto crypto,
    KeyCall call,
    KeyRequestContext context,
    IKeyOperationGateway gateway,
    HandshakeTranscript transcript,
    HandshakeFacts facts,
    byte[] ciphertext,
    ushort clientVersion,
    byte[] clientRandom,
    byte[] serverRandom) : TlsSecret
{
    private bool _destroyed;

    public int Length => 48;

    public TlsSecret DeriveUsingPrf(int prfAlgorithm, string label, byte[] seed, int length)
    {
        if (_destroyed || length != 48) throw Refuse($"a {length}-byte '{label}' derivation");
        var prf = prfAlgorithm switch
        {
            PrfAlgorithm.tls_prf_sha256 => TlsPrfHash.Sha256,
            PrfAlgorithm.tls_prf_sha384 => TlsPrfHash.Sha384,
            _ => throw Refuse($"PRF {prfAlgorithm}"),
        };
        RsaKeyExchange exchange;
        if (label == ExporterLabel.master_secret)
        {
            exchange = new RsaKeyExchange(ciphertext, clientVersion, clientRandom, serverRandom, prf);
        }
        else if (label == ExporterLabel.extended_master_secret)
        {
            var messages = transcript.ThroughClientKeyExchange() ?? throw Refuse("extended master secret without the handshake's messages");
            var hash = prf == TlsPrfHash.Sha384 ? SHA384.HashData(messages) : SHA256.HashData(messages);
            // The key server hashes the same messages: they must be the ones this handshake's session hash covers.
            if (!hash.AsSpan().SequenceEqual(seed)) throw Refuse("recorded handshake messages that do not hash to the session hash");
            exchange = new RsaKeyExchange(ciphertext, clientVersion, clientRandom, serverRandom, prf, messages);
        }
        else
        {
            throw Refuse($"a '{label}' derivation");
        }
        var result = gateway.Perform(call, new DeriveMasterSecretRequest(context, exchange));
        if (result is not { IsOk: true, Output: { Length: 48 } master })
        {
            facts.KeyFailure = result.IsOk ? KeyOperationStatus.BadAnswer : result.Status;
            facts.KeyFailureDetail = result.Detail ?? "a master secret that is not 48 bytes";
            throw new TlsFatalAlert(TlsAlerts.For(facts.KeyFailure.Value), $"key server: {facts.KeyFailure}");
        }
        try
        {
            return crypto.CreateSecret(master);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(master);
        }
    }

    public TlsSecret DeriveUsingPrf(int prfAlgorithm, ReadOnlySpan<char> label, ReadOnlySpan<byte> seed, int length) =>
        DeriveUsingPrf(prfAlgorithm, label.ToString(), seed.ToArray(), length);

    public void Destroy() => _destroyed = true;

    public bool IsAlive() => !_destroyed;

    public byte[] CalculateHmac(int cryptoHashAlgorithm, byte[] buf, int off, int len) => throw Refuse("an HMAC");

    public byte[] Encrypt(TlsEncryptor encryptor) => throw Refuse("encryption");

    public byte[] Extract() => throw Refuse("extraction");

    public void ExtractTo(Span<byte> output) => throw Refuse("extraction");

    public TlsSecret HkdfExpand(int cryptoHashAlgorithm, byte[] info, int length) => throw Refuse("HKDF");

    public TlsSecret HkdfExpand(int cryptoHashAlgorithm, ReadOnlySpan<byte> info, int length) => throw Refuse("HKDF");

    public TlsSecret HkdfExtract(int cryptoHashAlgorithm, TlsSecret ikm) => throw Refuse("HKDF");

    private TlsFatalAlert Refuse(string what)
    {
        facts.KeyFailureDetail ??= $"the premaster is on the key server; refused {what}";
        return new TlsFatalAlert(AlertDescription.internal_error, facts.KeyFailureDetail);
    }
}

/// <summary>The one place key-operation outcomes become TLS alerts.</summary>
internal static class TlsAlerts
{
    public static short For(KeyOperationStatus status) => status switch
    {
        KeyOperationStatus.Unauthorized => AlertDescription.access_denied,
        _ => AlertDescription.internal_error,
    };
}
