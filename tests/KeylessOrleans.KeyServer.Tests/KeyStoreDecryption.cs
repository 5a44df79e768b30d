using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Tests;

/// <summary>
/// The key holder's premaster decryption, reached in tests through the store: no key-grain operation answers a
/// premaster (<see cref="KeyOperations.DeriveMasterSecret"/> keeps it), but its implicit rejection is tested here.
/// </summary>
internal static class KeyStoreDecryption
{
    public static KeyOperationResult DecryptPremaster(this IKeyStore store, string keyId, byte[] ciphertext, ushort clientVersion) =>
        store.TryGetKey(keyId, out var key)
            ? KeyOperationResult.Success(key.DecryptPremaster(ciphertext, clientVersion))
            : KeyOperationResult.Failure(KeyOperationStatus.KeyNotFound, $"key {keyId} is not held here");
}
