using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// A key is used only for the names its certificates cover: the SNI of the connection must match a DNS name
/// (exact or one-label wildcard) of one of the key's certificates here. An edge cannot borrow a key for a name
/// the tenant never certified with it.
/// </summary>
internal sealed class HostNameBinding(IKeyStore store)
{
    private readonly ConditionalWeakTable<CertificateChain, string[]> _names = new();

    public KeyOperationResult? Check(string keyId, string? serverName)
    {
        if (!store.TryGetKey(keyId, out _))
            return KeyOperationResult.Failure(KeyOperationStatus.KeyNotFound, $"no key {keyId[..Math.Min(16, keyId.Length)]}… on this key server");
        if (string.IsNullOrWhiteSpace(serverName))
            return KeyOperationResult.Failure(KeyOperationStatus.Unauthorized, "request names no host (SNI)");
        foreach (var chain in store.ChainsOf(keyId))
        {
            var names = _names.GetValue(chain, static c => c.EndEntity.Extensions.OfType<X509SubjectAlternativeNameExtension>()
                .SelectMany(san => san.EnumerateDnsNames()).ToArray());
            if (names.Any(pattern => HostNames.Matches(pattern, serverName))) return null;
        }
        return KeyOperationResult.Failure(KeyOperationStatus.Unauthorized, $"no certificate of key {keyId[..Math.Min(16, keyId.Length)]}… covers '{serverName}'");
    }
}
