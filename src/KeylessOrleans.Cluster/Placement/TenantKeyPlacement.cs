using Orleans.Placement;

namespace KeylessOrleans.Cluster.Placement;

/// <summary>
/// Places a tenant's grain only on the on-prem silo of the tenant and replica named in its key: a key grain
/// ("tenant/replica/keyId") or a key server grain ("tenant/replica"). Orleans' built-in metadata filters compare candidates with the caller's
/// metadata, which is an edge's when an edge calls, so they cannot express this.
/// </summary>
internal sealed class TenantKeyPlacementStrategy : PlacementFilterStrategy
{
    public TenantKeyPlacementStrategy() : this(0) { }

    public TenantKeyPlacementStrategy(int order) : base(order) { }
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
internal sealed class TenantKeyPlacementAttribute(int order = 0)
    : PlacementFilterAttribute(new TenantKeyPlacementStrategy(order));
