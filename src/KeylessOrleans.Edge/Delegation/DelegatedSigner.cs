using KeylessOrleans.Edge.Tls;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using BcScheme = Org.BouncyCastle.Tls.SignatureScheme;

namespace KeylessOrleans.Edge.Delegation;

/// <summary>
/// TLS 1.3 credentials for a client that accepts delegated credentials: the certificate message carries the
/// credential in the end-entity entry, and CertificateVerify is signed here, with the credential's key — no key
/// server involved. (BouncyCastle signs with whatever signer it is given and checks neither the key against the
/// certificate nor the scheme against the client's list; <see cref="CredentialChoice"/> does the latter.)
/// </summary>
internal sealed class DelegatedSigner(Certificate certificate, IssuedCredential credential, HandshakeFacts facts) : TlsCredentialedSigner
{
    public Certificate Certificate => certificate;

    public SignatureAndHashAlgorithm SignatureAndHashAlgorithm { get; } =
        BcScheme.GetSignatureAndHashAlgorithm((int)credential.Key.Scheme);

    public TlsStreamSigner GetStreamSigner() => new LocalSigner(this);

    public byte[] GenerateRawSignature(byte[] hash) =>
        throw new TlsFatalAlert(AlertDescription.internal_error, "bare-digest signing is not offered");

    private byte[] Sign(byte[] content)
    {
        facts.Delegated = true;
        return credential.Key.Sign(content);
    }

    private sealed class LocalSigner(DelegatedSigner owner) : TlsStreamSigner
    {
        private readonly MemoryStream _content = new(256);

        public Stream Stream => _content;

        public byte[] GetSignature() => owner.Sign(_content.ToArray());
    }
}
