using KeylessOrleans.Registry;

namespace KeylessOrleans.Keys;

/// <summary>
/// One replica of a tenant's key server as a whole (key "tenant/replica"), pinned to that replica's silo like its key
/// grains. Serves public data only: the certificate chains whose keys the replica holds. Edges believe none of it
/// until each chain's names fall within the tenant's allowed names and the replica proves it holds the key
/// (<see cref="ProvePossessionRequest"/>).
/// </summary>
[Alias("keyless.IKeyServerGrain")]
public interface IKeyServerGrain : IGrainWithStringKey
{
    /// <summary>The replica's chains, or null when <paramref name="knownVersion"/> is still current.</summary>
    [Alias("GetChainsIfChanged")]
    Task<KeyServerChains?> GetChainsIfChangedAsync(string? knownVersion, CancellationToken cancellationToken = default);
}

/// <param name="Version">Changes whenever the chains do (also across restarts of the key server).</param>
[GenerateSerializer, Immutable, Alias("keyless.KeyServerChains")]
public sealed record KeyServerChains(
    [property: Id(0)] string Version,
    [property: Id(1)] IReadOnlyList<CertificateChainRegistration> Chains);
