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
public sealed class KeylessSigner(
    Certificate certificate,
    SignatureAndHashAlgorithm algorithm,
    bool tls13,
    KeyCall call,
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
        var result = tls13
            ? gateway.SignCertificateVerify(call, scheme, content)
            : gateway.SignServerKeyExchange(call, scheme, content);
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
/// TLS 1.2 RSA key exchange with the key on the tenant's key server. The key server answers every ciphertext,
/// well padded or not, with 48 bytes (RFC 5246 §7.4.7.1), so a bad ciphertext simply fails at Finished. A key
/// server that cannot be reached says nothing about the ciphertext, so that ends the handshake at once with
/// the same alert as for signing handshakes.
/// </summary>
public sealed class KeylessDecryptor(
    Certificate certificate,
    TlsCrypto crypto,
    KeyCall call,
    IKeyOperationGateway gateway,
    HandshakeFacts facts) : TlsCredentialedDecryptor
{
    public Certificate Certificate => certificate;

    public TlsSecret Decrypt(TlsCryptoParameters cryptoParams, byte[] ciphertext)
    {
        facts.KeyCalls++;
        var clientVersion = (ushort)cryptoParams.RsaPreMasterSecretVersion.FullVersion;
        var randoms = cryptoParams.SecurityParameters;
        var result = gateway.DecryptPremaster(call, ciphertext, clientVersion, randoms.ClientRandom, randoms.ServerRandom);
        if (result is { IsOk: true, Output.Length: 48 }) return crypto.CreateSecret(result.Output);
        if (result.IsOk) return crypto.CreateSecret(RandomNumberGenerator.GetBytes(48));
        facts.KeyFailure = result.Status;
        facts.KeyFailureDetail = result.Detail;
        throw new TlsFatalAlert(TlsAlerts.For(result.Status), $"key server: {result.Status}");
    }
}

/// <summary>The one place key-operation outcomes become TLS alerts.</summary>
public static class TlsAlerts
{
    public static short For(KeyOperationStatus status) => status switch
    {
        KeyOperationStatus.Unauthorized => AlertDescription.access_denied,
        _ => AlertDescription.internal_error,
    };
}
