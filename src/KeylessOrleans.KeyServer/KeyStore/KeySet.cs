using System.Diagnostics.CodeAnalysis;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>
/// One immutable view of the key folder. The store swaps whole sets, so a reader never sees a key without the
/// chains that belong with it, or a half-applied reload.
/// </summary>
internal sealed class KeySet(
    IReadOnlyDictionary<string, IPrivateKey> keys,
    IReadOnlyList<CertificateChain> chains,
    IReadOnlyDictionary<string, KeyFolderFile> files)
{
    public static readonly KeySet Empty = new(
        new Dictionary<string, IPrivateKey>(), [], new Dictionary<string, KeyFolderFile>());

    public IReadOnlyDictionary<string, IPrivateKey> Keys { get; } = keys;
    public IReadOnlyList<CertificateChain> Chains { get; } = chains;
    public IReadOnlyDictionary<string, KeyFolderFile> Files { get; } = files;

    public bool TryGetKey(string keyId, [NotNullWhen(true)] out IPrivateKey? key) => Keys.TryGetValue(keyId, out key);
}
