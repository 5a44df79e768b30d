using System.Runtime.CompilerServices;
using KeylessOrleans.Registry;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tls;

/// <summary>A certificate chain in both wire shapes BouncyCastle needs.</summary>
public sealed class ServerChain
{
    private readonly TlsCertificate[] _certificates;

    public ServerChain(TlsCrypto crypto, IReadOnlyList<byte[]> chainDer)
    {
        ChainDer = chainDer;
        _certificates = chainDer.Select(crypto.CreateCertificate).ToArray();
        Tls12 = new Certificate(_certificates);
        Tls13 = Tls13With(null);
    }

    /// <summary>DER certificates, end-entity first.</summary>
    public IReadOnlyList<byte[]> ChainDer { get; }

    public Certificate Tls12 { get; }
    public Certificate Tls13 { get; }

    /// <summary>
    /// The TLS 1.3 form with extensions in the end-entity CertificateEntry (an OCSP staple, a delegated credential),
    /// which vary per connection. TLS 1.3 needs a (empty) certificate_request_context, or encoding fails with internal_error.
    /// </summary>
    public Certificate Tls13With(IDictionary<int, byte[]>? endEntityExtensions) =>
        new(TlsUtilities.EmptyBytes, _certificates.Select((c, i) => new CertificateEntry(c, i == 0 ? endEntityExtensions : null)).ToArray());
}

/// <summary>Parsed chains per key route, kept while the registry serves the same chain bytes.</summary>
public sealed class ServerChainCache(TlsCrypto crypto)
{
    private readonly ConditionalWeakTable<IReadOnlyList<byte[]>, ServerChain> _chains = new();

    public ServerChain For(KeyRoute key) => _chains.GetValue(key.ChainDer, der => new ServerChain(crypto, der));
}
