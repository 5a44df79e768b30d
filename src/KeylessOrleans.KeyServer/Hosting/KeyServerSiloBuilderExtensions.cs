using KeylessOrleans.Cluster;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.KeyServer.Audit;
using KeylessOrleans.KeyServer.Delegation;
using KeylessOrleans.KeyServer.Diagnostics;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.KeyStore.Pkcs11;
using KeylessOrleans.KeyServer.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Hosting;

public static class KeyServerSiloBuilderExtensions
{
    /// <summary>
    /// Makes this silo a tenant's key server: declares it on-prem for the tenant and replica, hosts only key grains and
    /// its key server grain, loads the PEM key folder and follows its changes (unless another <see cref="IKeyStore"/> is
    /// registered), opens the audit log, and — in a shared cluster only (<see cref="KeyServerOptions.SharedCluster"/>) —
    /// registers the replica's certificate chains with the operator's registry. Clustering, gateway and TLS are the
    /// host's choice (the keyserver command makes the silo a member of the tenant's own cluster).
    /// </summary>
    public static ISiloBuilder AddKeylessKeyServer(this ISiloBuilder builder, Action<KeyServerOptions> configure)
    {
        // Metadata is fixed when the silo is built, so tenant and replica are read now; the same delegate
        // also feeds the validated options the services use.
        var declared = new KeyServerOptions();
        configure(declared);
        builder.AddKeylessSiloRole(SiloRoles.OnPrem, declared.Tenant, declared.Replica);
        builder.RemoveGrainClasses(type => type != typeof(KeyGrain) && type != typeof(KeyServerGrain));

        var services = builder.Services;
        services.AddOptions<KeyServerOptions>().Configure(configure).ValidateOnStart();
        services.TryAddSingleton(new KeyServerSettings(configure));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KeyServerOptions>, KeyServerOptionsValidator>());
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<KeyServerOptions>>().Value;
            return new Pkcs11KeySet(o.Pkcs11Keys, o.Pkcs11SessionPoolSize, sp.GetRequiredService<ILogger<Pkcs11KeySet>>(), o.Pkcs11CreateImplicitRejectionKeys);
        });
        services.TryAddSingleton<IKeyStore>(sp => new PemKeyStore(
            sp.GetRequiredService<IOptions<KeyServerOptions>>().Value.KeyDirectory,
            sp.GetRequiredService<ILogger<PemKeyStore>>(),
            sp.GetRequiredService<Pkcs11KeySet>().Keys,
            sp.GetRequiredService<IOptions<KeyServerOptions>>().Value.KeyRetirementDelay,
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<KeyOperations>();
        services.TryAddSingleton<CredentialDelegation>();
        services.TryAddSingleton<KeyServerMetrics>();
        services.TryAddSingleton<AuditLogMetrics>();
        services.TryAddSingleton<AuditLog>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, AuditLogLifecycle>();
        services.AddHostedService<KeyFolderWatcher>();
        services.TryAddSingleton<RegistrationState>();
        services.TryAddSingleton<ChainsVersion>();
        if (declared.SharedCluster) services.AddHostedService<ReplicaRegistrar>();
        else services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, ServingLifecycle>();
        services.AddHealthChecks().AddCheck<KeyServerReadinessCheck>(KeyServerReadinessCheck.Name, tags: [HealthTags.Ready]);

        // The gate in front of the key grains: edge proofs, tenant policy, rate limits, host names, freshness.
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<KeyServerOptions>>().Value.Access);
        services.TryAddSingleton<EdgeAuthenticator>();
        services.TryAddSingleton<HostNameBinding>();
        services.TryAddSingleton<HandshakeFreshness>();
        services.TryAddSingleton<KeyAccessPolicy>();
        services.TryAddSingleton<KeyAccessGuard>();
        services.AddHostedService<AccessPolicyLog>();
        builder.AddIncomingGrainCallFilter<KeyAccessFilter>();
        return builder;
    }
}
