using KeylessOrleans.Cluster.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Hosting;
using Orleans.Storage;

namespace KeylessOrleans.Cluster.Hosting;

public static class FileGrainStorageExtensions
{
    /// <summary>
    /// Adds a grain storage named <paramref name="name"/> that keeps each grain state in a file under
    /// <see cref="FileGrainStorageOptions.Directory"/> (checked at silo start): state that outlives the silos of a
    /// single-machine cluster. Not Orleans' own <c>Orleans.Persistence.FileStorage</c> provider, which writes files in place.
    /// </summary>
    public static ISiloBuilder AddFileGrainStorage(this ISiloBuilder silo, string name, Action<FileGrainStorageOptions> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        silo.Services.AddOptions<FileGrainStorageOptions>(name).Configure(configure).ValidateOnStart();
        silo.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FileGrainStorageOptions>, FileGrainStorageOptionsValidator>());
        // Fills in the silo's default IGrainStorageSerializer where the options name none.
        silo.Services.TryAddEnumerable(ServiceDescriptor.Transient<IPostConfigureOptions<FileGrainStorageOptions>, DefaultStorageProviderSerializerOptionsConfigurator<FileGrainStorageOptions>>());
        silo.Services.AddGrainStorage(name, static (services, storageName) => ActivatorUtilities.CreateInstance<FileGrainStorage>(
            services, storageName, services.GetRequiredService<IOptionsMonitor<FileGrainStorageOptions>>().Get(storageName)));
        return silo;
    }
}
