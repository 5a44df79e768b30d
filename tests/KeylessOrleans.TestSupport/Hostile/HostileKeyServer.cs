using System.Collections.Concurrent;
using System.Security.Cryptography;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;

namespace KeylessOrleans.TestSupport.Hostile;

/// <summary>
/// What a hostile tenant's key server answers, set by the test: the chains it announces (any it likes) and what its
/// key grains return. It runs in a tenant cluster of its own (<see cref="TenantKeyServerHost"/> with these classes only),
/// as an attacker who controls the tenant's machines would run it.
/// </summary>
public static class HostileKeyServer
{
    /// <summary>Chains announced by tenant/replica.</summary>
    public static ConcurrentDictionary<string, IReadOnlyList<CertificateChainRegistration>> Announced { get; } = new();

    /// <summary>What every key operation answers (by tenant); default: 64 random bytes as "Ok".</summary>
    public static ConcurrentDictionary<string, Func<KeyRequest, KeyOperationResult>> Answers { get; } = new();

    /// <summary>The grain classes a hostile tenant silo hosts (and nothing else).</summary>
    public static bool IsHostileClass(Type type) => type == typeof(HostileKeyServerGrain) || type == typeof(HostileKeyGrain);

    internal static KeyOperationResult Answer(KeyRequest request) =>
        Answers.TryGetValue(request.Context.Tenant, out var answer) ? answer(request) : KeyOperationResult.Success(RandomNumberGenerator.GetBytes(64));
}

/// <summary>Announces whatever the test put in <see cref="HostileKeyServer.Announced"/>, with a new version each time.</summary>
public sealed class HostileKeyServerGrain : Grain, IKeyServerGrain
{
    public Task<KeyServerChains?> GetChainsIfChangedAsync(string? knownVersion, CancellationToken cancellationToken = default) =>
        Task.FromResult<KeyServerChains?>(new KeyServerChains($"hostile:{Guid.NewGuid():N}",
            HostileKeyServer.Announced.GetValueOrDefault(this.GetPrimaryKeyString(), [])));
}

/// <summary>Answers every key operation as <see cref="HostileKeyServer.Answers"/> says, without any key.</summary>
public sealed class HostileKeyGrain : Grain, IKeyGrain
{
    public Task<KeyOperationResult> PerformAsync(KeyRequest request, CancellationToken cancellationToken = default) =>
        Task.FromResult(HostileKeyServer.Answer(request));

    public Task<EdgeSessionGrant> OpenEdgeSessionAsync(EdgeSessionRequest request, CancellationToken cancellationToken = default) =>
        Task.FromResult(EdgeSessionGrant.Refused("hostile key server"));

    public Task<KeyDescriptionResult> DescribeAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(new KeyDescriptionResult(KeyOperationStatus.KeyNotFound));
}
