using System.Runtime.CompilerServices;
using KeylessOrleans.Registry;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tls;

/// <summary>A certificate chain in both wire shapes BouncyCastle needs.</summary>
public sealed class ServerChain
{
    public ServerChain(TlsCrypto crypto, IReadOnlyList<byte[]> chainDer)
    {
        var certificates = chainDer.Select(crypto.CreateCertificate).ToArray();
        Tls12 = new Certificate(certificates);
        // TLS 1.3 needs a (empty) certificate_request_context, or encoding fails with internal_error.
        Tls13 = new Certificate(TlsUtilities.EmptyBytes, certificates.Select(c => new CertificateEntry(c, null)).ToArray());
    }

    public Certificate Tls12 { get; }
    public Certificate Tls13 { get; }
}

/// <summary>Parsed chains per key route, kept while the registry serves the same chain bytes.</summary>
public sealed class ServerChainCache(TlsCrypto crypto)
{
    private readonly ConditionalWeakTable<IReadOnlyList<byte[]>, ServerChain> _chains = new();

    public ServerChain For(KeyRoute key) => _chains.GetValue(key.ChainDer, der => new ServerChain(crypto, der));
}
