using KeylessOrleans.Cluster;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Cluster.Registry;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Keys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Hosting;

public static class EdgeSiloBuilderExtensions
{
    /// <summary>
    /// Makes this silo an edge: declares its role, refuses to host key grains, keeps the registry (in memory
    /// unless another "keyless-registry" storage is added after this call) and provides <see cref="KeyServerClient"/>.
    /// </summary>
    public static ISiloBuilder AddKeylessEdge(this ISiloBuilder builder, Action<EdgeOptions>? configure = null)
    {
        builder.AddKeylessSiloRole(SiloRoles.Edge);
        builder.RemoveGrainClasses(type => typeof(IKeyGrain).IsAssignableFrom(type));
        builder.AddMemoryGrainStorage(RegistryStorage.Name);

        var services = builder.Services;
        services.AddOptions<EdgeOptions>().Configure(configure ?? (_ => { })).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EdgeOptions>, EdgeOptionsValidator>());
        services.TryAddSingleton<EdgeMetrics>();
        services.TryAddSingleton<KeyServerClient>();
        return builder;
    }
}
