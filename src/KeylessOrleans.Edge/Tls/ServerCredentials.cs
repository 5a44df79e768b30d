using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;

namespace KeylessOrleans.Edge.Tls;

/// <summary>A certificate chain in both wire shapes BouncyCastle needs.</summary>
internal sealed class ServerChain
{
    private readonly TlsCertificate[] _certificates;

    public ServerChain(TlsCrypto crypto, IReadOnlyList<byte[]> chainDer)
    {
        ChainDer = chainDer;
        Sha256 = SHA256.HashData(chainDer[0]);
        Sha256Hex = Convert.ToHexString(Sha256);
        using (var endEntity = X509CertificateLoader.LoadCertificate(chainDer[0]))
        {
            NotBefore = endEntity.NotBefore.ToUniversalTime();
            AllowsDelegation = endEntity.Extensions[DelegatedCredential.DelegationUsageOid] is not null;
        }
        _certificates = chainDer.Select(crypto.CreateCertificate).ToArray();
        Tls12 = new Certificate(_certificates);
        Tls13 = Tls13With(null);
    }

    /// <summary>DER certificates, end-entity first.</summary>
    public IReadOnlyList<byte[]> ChainDer { get; }

    /// <summary>SHA-256 of the end-entity certificate: how a key server finds it.</summary>
    public byte[] Sha256 { get; }

    public string Sha256Hex { get; }

    /// <summary>From when the end-entity certificate is valid; delegated credentials count their validity from here.</summary>
    public DateTimeOffset NotBefore { get; }

    /// <summary>The end-entity certificate carries DelegationUsage (RFC 9345), so its key may issue delegated credentials.</summary>
    public bool AllowsDelegation { get; }

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
internal sealed class ServerChainCache(TlsCrypto crypto)
{
    private readonly ConditionalWeakTable<IReadOnlyList<byte[]>, ServerChain> _chains = new();

    public ServerChain For(KeyRoute key) => _chains.GetValue(key.ChainDer, der => new ServerChain(crypto, der));
}
