using System.Diagnostics.CodeAnalysis;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>A key gone from the folder that still answers until its retirement delay ends, with the chains it had.</summary>
internal sealed record RetiringKey(IPrivateKey Key, IReadOnlyList<CertificateChain> Chains);

/// <summary>
/// One immutable view of the key folder. The store swaps whole sets, so a reader never sees a key without the
/// chains that belong with it, or a half-applied reload.
/// </summary>
internal sealed class KeySet(
    IReadOnlyDictionary<string, IPrivateKey> keys,
    IReadOnlyList<CertificateChain> chains,
    IReadOnlyDictionary<string, KeyFolderFile> files,
    IReadOnlyDictionary<string, RetiringKey> retiring)
{
    public static readonly KeySet Empty = new(
        new Dictionary<string, IPrivateKey>(), [], new Dictionary<string, KeyFolderFile>(), new Dictionary<string, RetiringKey>());

    public IReadOnlyDictionary<string, IPrivateKey> Keys { get; } = keys;
    public IReadOnlyList<CertificateChain> Chains { get; } = chains;
    public IReadOnlyDictionary<string, KeyFolderFile> Files { get; } = files;

    /// <summary>
    /// Keys removed from the folder moments ago. Edges still on the registry snapshot from before the change keep
    /// asking for them for a second or two; answering avoids failed handshakes during a rotation.
    /// </summary>
    public IReadOnlyDictionary<string, RetiringKey> Retiring { get; } = retiring;

    public bool TryGetKey(string keyId, [NotNullWhen(true)] out IPrivateKey? key)
    {
        if (Keys.TryGetValue(keyId, out key)) return true;
        key = Retiring.TryGetValue(keyId, out var retiring) ? retiring.Key : null;
        return key is not null;
    }

    public IEnumerable<CertificateChain> ChainsOf(string keyId) =>
        Chains.Where(c => c.KeyId == keyId).Concat(Retiring.TryGetValue(keyId, out var r) ? r.Chains : []);

    public KeySet WithoutRetiring(IReadOnlyCollection<RetiringKey> expired) =>
        new(Keys, Chains, Files, Retiring.Where(r => !expired.Contains(r.Value)).ToDictionary(StringComparer.Ordinal));
}
