using System.Security.Cryptography;
using KeylessOrleans.KeyServer.KeyStore;
using Microsoft.Extensions.Primitives;

namespace KeylessOrleans.KeyServer.Registry;

/// <summary>
/// The version of this replica's chains: a random epoch of this process, ":", and the number of key-store reloads
/// since it started. A restart draws a new epoch, so an edge never mistakes a restarted replica's chains for the ones
/// it holds; a reload bumps the counter.
/// </summary>
internal sealed class ChainsVersion : IDisposable
{
    private readonly string _epoch = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    private readonly IDisposable _subscription;
    private long _reloads;

    public ChainsVersion(IKeyStore store) =>
        _subscription = ChangeToken.OnChange(store.GetReloadToken, () => Interlocked.Increment(ref _reloads));

    /// <summary>
    /// Read before the chains are described: a reload in between then yields chains newer than their version, which
    /// only makes the next poll fetch them again, never an edge keep stale chains under a current version.
    /// </summary>
    public string Current => $"{_epoch}:{Interlocked.Read(ref _reloads)}";

    public void Dispose() => _subscription.Dispose();
}
