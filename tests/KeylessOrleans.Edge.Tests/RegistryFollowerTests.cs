using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Edge.Tests;

/// <summary>When an edge keeps its last registry snapshot instead of applying a new one.</summary>
public sealed class RegistryFollowerTests
{
    private static RegistrySnapshot Snapshot(long version, int tenants) =>
        new(version, [], Enumerable.Range(0, tenants).Select(i => new TenantSettings($"t{i}", [$"t{i}.test"], new OriginEndpoint("127.0.0.1", 9))).ToList());

    [Fact]
    public void An_older_empty_snapshot_is_a_registry_that_restarted_empty_and_is_not_applied() =>
        Assert.True(RegistryFollower.IsEmptyRestart(Snapshot(0, 0), knownVersion: 7));

    [Fact]
    public void Removing_every_tenant_comes_with_a_newer_version_and_is_applied() =>
        Assert.False(RegistryFollower.IsEmptyRestart(Snapshot(8, 0), knownVersion: 7));

    [Fact]
    public void An_older_snapshot_with_tenants_is_a_rebuilt_registry_and_is_applied() =>
        Assert.False(RegistryFollower.IsEmptyRestart(Snapshot(2, 1), knownVersion: 7));

    [Fact]
    public void The_first_snapshot_is_always_applied() =>
        Assert.False(RegistryFollower.IsEmptyRestart(Snapshot(0, 0), knownVersion: -1));
}
