using System.Net;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.KeyServer;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KeylessOrleans.Benchmarks;


/// <summary>
/// Three silos on localhost clustering in this process, talking over loopback TCP like separate hosts:
/// the tenant's key server, a keyless edge, and a baseline edge that signs in-process with the same keys.
/// </summary>
internal sealed class BenchCluster : IAsyncDisposable
{
    public const string Host = "bench.example.test";

    private readonly List<IHost> _hosts = [];

    public required TenantKeyFolder Keys { get; init; }
    public required int OriginPort { get; init; }
    public int KeylessPort { get; private set; }
    public int LocalPort { get; private set; }
    public IServiceProvider KeylessEdgeServices => _hosts[0].Services;
    public IServiceProvider KeyServerServices => _hosts[2].Services;

    /// <param name="auditLogFolder">
    /// Also start replica "audited" of the same tenant, writing an audit log into this folder; the "primary" replica
    /// runs without one either way, so the other rows measure what they always did.
    /// </param>
    /// <param name="identities">
    /// The operator's cluster CA: the keyless edge signs every key request with its edge certificate and the key
    /// server checks it, as in production (docs/security.md, "Key access"). Null: edges are not authenticated.
    /// </param>
    /// <param name="keyServerDelay">The key server answers this much later (its fault drill), as one across a WAN would.</param>
    public static async Task<BenchCluster> StartAsync(TenantKeyFolder keys, int originPort, int handshakeThreads, string? auditLogFolder = null,
        ClusterIdentities? identities = null, TimeSpan keyServerDelay = default)
    {
        var cluster = new BenchCluster { Keys = keys, OriginPort = originPort };
        var edgeIdentity = identities?.Issue(KeylessOrleans.Cluster.Security.SiloIdentity.Edge("keyless-edge"));
        var primary = FreePort();
        cluster.KeylessPort = FreePort();
        cluster.LocalPort = FreePort();

        cluster._hosts.Add(await StartSiloAsync(primary, null, gateway: FreePort(), silo => silo.AddMemoryGrainStorage(KeylessOrleans.Cluster.Registry.RegistryStorage.Name).AddKeylessEdge(o =>
        {
            o.EdgeId = "keyless-edge";
            o.SharedCluster = true; // the key server below is a member of this cluster (single-organization shape)
            o.Tls.DefaultHostName = Host; // openssl s_time sends no SNI
            o.Listener.HttpsPort = cluster.KeylessPort;
            o.Limits.HandshakeThreads = handshakeThreads;
            o.IdentityCertificate = edgeIdentity?.Certificate;
            o.IdentityKey = edgeIdentity?.Key;
        })));
        var localOperations = new KeyOperations(new PemKeyStore(keys.Path, NullLogger<PemKeyStore>.Instance));
        cluster._hosts.Add(await StartSiloAsync(FreePort(), primary, gateway: 0, silo =>
        {
            silo.AddMemoryGrainStorage(KeylessOrleans.Cluster.Registry.RegistryStorage.Name).AddKeylessEdge(o =>
            {
                o.EdgeId = "local-key-edge";
                o.SharedCluster = true;
                o.Tls.DefaultHostName = Host;
                o.Listener.HttpsPort = cluster.LocalPort;
                o.Limits.HandshakeThreads = handshakeThreads;
            });
            silo.Services.AddSingleton<IKeyOperationGateway>(new LocalKeyGateway(localOperations));
        }));
        cluster._hosts.Add(await StartSiloAsync(FreePort(), primary, gateway: 0, silo => silo.AddKeylessKeyServer(o =>
        {
            o.Tenant = "bench";
            o.SharedCluster = true; // edges and key server in one cluster, registered with the edges' registry
            o.KeyDirectory = keys.Path;
            o.RegistrationRetryDelay = TimeSpan.FromMilliseconds(200);
            o.AuditLog.Enabled = false;
            o.Access.EdgeCa = identities?.CaFile;
            o.DrillDelay = keyServerDelay;
        })));
        if (auditLogFolder is not null)
        {
            cluster._hosts.Add(await StartSiloAsync(FreePort(), primary, gateway: 0, silo => silo.AddKeylessKeyServer(o =>
            {
                o.Tenant = "bench";
                o.SharedCluster = true;
                o.Replica = "audited";
                o.KeyDirectory = keys.Path;
                o.RegistrationRetryDelay = TimeSpan.FromMilliseconds(200);
                o.AuditLog.Path = Path.Combine(auditLogFolder, "audit-{replica}.log");
            })));
        }

        var grains = cluster.KeylessEdgeServices.GetRequiredService<IGrainFactory>();
        await grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey)
            .SetTenantAsync(new TenantSettings("bench", [Host], new OriginEndpoint("127.0.0.1", originPort)));
        foreach (var edge in cluster._hosts.Take(2))
        {
            var routes = edge.Services.GetRequiredService<RouteTable>();
            while (routes.Resolve(Host)?.Keys.Keys.Count != keys.AllKeys.Count()) await Task.Delay(100);
        }
        return cluster;
    }

    /// <param name="configureHost">Anything else the host needs before the silo (the admin endpoint of a child process).</param>
    internal static async Task<IHost> StartSiloAsync(int siloPort, int? primary, int gateway, Action<ISiloBuilder> configure, Action<HostApplicationBuilder>? configureHost = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        // Saturating both cores is the point here, so Orleans' starvation warnings are expected noise.
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Error);
        configureHost?.Invoke(builder);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gateway, primary is { } p ? new IPEndPoint(IPAddress.Loopback, p) : null, "bench", "bench");
            configure(silo);
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static int FreePort() => KeylessProcess.FreePort();

    public async ValueTask DisposeAsync()
    {
        for (var i = _hosts.Count - 1; i >= 0; i--)
        {
            await _hosts[i].StopAsync();
            _hosts[i].Dispose();
        }
    }
}
