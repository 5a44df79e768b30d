using KeylessOrleans.Cluster;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Cluster.Registry;
using KeylessOrleans.Edge.CallAccess;
using KeylessOrleans.Edge.Delegation;
using KeylessOrleans.Edge.Diagnostics;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Stapling;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Edge.Tls.Crypto;
using KeylessOrleans.Edge.Tls.Tickets;
using KeylessOrleans.Edge.WarmUp;
using KeylessOrleans.Keys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace KeylessOrleans.Edge.Hosting;

public static class EdgeSiloBuilderExtensions
{
    /// <summary>
    /// Makes this silo an edge: declares its role, refuses to host key grains, hosts and follows the registry
    /// (which needs a grain storage named "keyless-registry": <c>AddKeylessRegistryStorage</c>), and terminates
    /// TLS on <see cref="EdgeListenerOptions.HttpsPort"/> with private-key operations sent to tenants' key servers.
    /// </summary>
    public static ISiloBuilder AddKeylessEdge(this ISiloBuilder builder, Action<EdgeOptions>? configure = null)
    {
        builder.AddKeylessSiloRole(SiloRoles.Edge);
        builder.RemoveGrainClasses(type => typeof(IKeyGrain).IsAssignableFrom(type) || typeof(IKeyServerGrain).IsAssignableFrom(type));

        var services = builder.Services;
        services.AddOptions<EdgeOptions>().Configure(configure ?? (_ => { })).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EdgeOptions>, EdgeOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<EdgeMetrics>();
        // Who may call this silo's grains; with mutual TLS, UseKeylessTls provides the CA and signs this edge's own calls.
        services.TryAddSingleton<LocalCallSecret>();
        builder.AddIncomingGrainCallFilter<GrainCallAuthorization>();
        services.AddHostedService<GrainCallAuthorizationCheck>();
        services.TryAddSingleton<EdgeProofSigner>();
        services.TryAddSingleton<TenantClusterClients>();
        services.TryAddSingleton<KeyServerClient>();
        services.TryAddSingleton<ReplicaHealth>();
        services.TryAddSingleton<AnswerCheck>();
        services.TryAddSingleton(sp => new TenantBulkhead(sp.GetRequiredService<IOptions<EdgeOptions>>().Value.KeyCalls.MaxPerTenant));
        services.TryAddSingleton<RegistryReader>();
        services.TryAddSingleton(sp => sp.GetRequiredService<EdgeMetrics>().Observe(
            new RouteTable(sp.GetRequiredService<RegistryReader>(), sp.GetRequiredService<TimeProvider>(),
                new RouteTableLimits { AdmissionTimeout = sp.GetRequiredService<IOptions<EdgeOptions>>().Value.KeyCalls.Timeout }),
            sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<RegistryFeedFollower>();
        services.AddHostedService<TenantChainFollower>();
        services.TryAddSingleton<HandshakeWindow>(); // before the listener starts, so it sees every connection
        services.AddHostedService<EdgeStatusReporter>();

        services.TryAddSingleton<TlsCrypto>(_ => new EdgeTlsCrypto(new SecureRandom()));
        services.TryAddSingleton<IKeyOperationGateway, HandshakeGrainGateway>();
        services.TryAddSingleton(sp => new ServerChainCache(sp.GetRequiredService<TlsCrypto>()));
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<EdgeOptions>>().Value;
            return new TlsSessionCache(sp.GetRequiredService<TlsCrypto>(), o.Resumption.Lifetime, o.Resumption.CacheSize, sp.GetRequiredService<TimeProvider>());
        });
        services.TryAddSingleton<OcspStapler>();
        services.TryAddSingleton<DelegatedCredentials>();
        services.TryAddSingleton<SessionTicketKeyRing>();
        services.AddHostedService<SessionTicketKeyFollower>();
        services.TryAddSingleton(sp => new TlsServerContext(
            sp.GetRequiredService<TlsCrypto>(),
            sp.GetRequiredService<RouteTable>(),
            sp.GetRequiredService<ServerChainCache>(),
            sp.GetRequiredService<IKeyOperationGateway>(),
            sp.GetRequiredService<TlsSessionCache>(),
            sp.GetRequiredService<IOptions<EdgeOptions>>().Value.Tls.DefaultHostName,
            sp.GetRequiredService<IOptions<EdgeOptions>>().Value.EdgeId)
        {
            Staples = sp.GetRequiredService<OcspStapler>(),
            Delegation = sp.GetRequiredService<DelegatedCredentials>(),
            Tickets = sp.GetRequiredService<IOptions<EdgeOptions>>().Value.Resumption.Tickets ? sp.GetRequiredService<SessionTicketKeyRing>() : null,
            Tls13Groups = KeyShareGroups.Parse(sp.GetRequiredService<IOptions<EdgeOptions>>().Value.Tls.Tls13Groups, out _),
        });
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<EdgeOptions>>().Value;
            return sp.GetRequiredService<EdgeMetrics>().Observe(new HandshakeWorkerPool(o.Limits.HandshakeThreads, o.Limits.HandshakeQueueLength));
        });
        services.TryAddSingleton<FailedHandshakeLog>();
        services.TryAddSingleton<EdgeListener>();
        services.AddHostedService(sp => sp.GetRequiredService<EdgeListener>());
        services.TryAddSingleton<KeyCallWarmUp>();
        services.TryAddSingleton<EdgeWarmUp>();
        services.AddHostedService(sp => sp.GetRequiredService<EdgeWarmUp>());
        services.AddHealthChecks().AddCheck<EdgeReadinessCheck>(EdgeReadinessCheck.Name, tags: [HealthTags.Ready]);
        return builder;
    }
}
