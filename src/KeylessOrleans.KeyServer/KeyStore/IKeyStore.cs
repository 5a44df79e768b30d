using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Primitives;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>The keys and certificate chains one key server holds.</summary>
public interface IKeyStore
{
    /// <summary>
    /// A key this server can use: one of <see cref="Keys"/>, or one removed from the store moments ago and still
    /// answering for edges that have not yet seen the change.
    /// </summary>
    bool TryGetKey(string keyId, [NotNullWhen(true)] out IPrivateKey? key);

    IReadOnlyCollection<IPrivateKey> Keys { get; }

    /// <summary>Certificate chains whose end-entity public key is one of <see cref="Keys"/>.</summary>
    IReadOnlyList<CertificateChain> Chains { get; }

    /// <summary>The chains of a key <see cref="TryGetKey"/> finds, including those of a key being retired.</summary>
    IEnumerable<CertificateChain> ChainsOf(string keyId);

    /// <summary>Fires when keys or chains changed (a reload of the key folder); take a new token after each change.</summary>
    IChangeToken GetReloadToken();
}

/// <summary>A certificate chain (end-entity first) and the id of the key it belongs to.</summary>
public sealed record CertificateChain(string KeyId, IReadOnlyList<X509Certificate2> Certificates, string Source)
{
    public X509Certificate2 EndEntity => Certificates[0];
}
