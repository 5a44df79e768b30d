using KeylessOrleans.Cluster.Placement;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Placement;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace KeylessOrleans.Cluster.Hosting;

/// <summary>Building blocks every KeylessOrleans silo uses; the edge and key-server extensions call these.</summary>
public static class KeylessSiloBuilderExtensions
{
    /// <summary>
    /// Declares this silo's role (and, on-prem, its tenant and replica) and registers the tenant placement filter and
    /// the directory of grains placed by rule.
    /// </summary>
    public static ISiloBuilder AddKeylessSiloRole(this ISiloBuilder builder, string role, string? tenant = null, string? replica = null)
    {
        var metadata = new Dictionary<string, string> { [SiloMetadataKeys.Role] = role };
        if (tenant is not null) metadata[SiloMetadataKeys.Tenant] = tenant;
        if (replica is not null) metadata[SiloMetadataKeys.Replica] = replica;
        builder.UseSiloMetadata(metadata);
        builder.Services.AddPlacementFilter<TenantKeyPlacementStrategy, TenantKeyPlacementDirector>(ServiceLifetime.Transient);
        // Every silo needs it: a silo resolves a grain type's directory by name even for grains it only calls.
        builder.AddGrainDirectory(PlacementRuleDirectory.Name, (_, _) => new PlacementRuleDirectory());
        return builder;
    }

    /// <summary>
    /// Removes grain classes from this silo, so placement never chooses it for them (a second wall behind the
    /// placement filter: an edge cannot host a key grain, an on-prem silo hosts nothing but key grains).
    /// </summary>
    public static ISiloBuilder RemoveGrainClasses(this ISiloBuilder builder, Func<Type, bool> remove)
    {
        builder.Services.Configure<GrainTypeOptions>(options => options.Classes.RemoveWhere(type => remove(type)));
        return builder;
    }
}
