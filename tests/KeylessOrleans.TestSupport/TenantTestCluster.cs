using System.Net;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.Keys;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Messaging;
using Orleans.TestingHost;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// One tenant's own key-server cluster in memory (Microsoft.Orleans.TestingHost): its replicas configured as the
/// product configures them (<c>AddKeylessKeyServer</c>, not shared), each with a gateway, under the ids edges derive
/// from the tenant's name, clustered among themselves (the test host's membership). Edges are not
/// members: <see cref="Edge"/> is an Orleans client with static clustering to the gateways, as an edge connects.
/// </summary>
/// <remarks>The test host's transport is in memory, so this cluster has no TLS: the process tests cover it.</remarks>
public sealed class TenantTestCluster : IAsyncDisposable
{
    private readonly Dictionary<string, SiloPlan.OnPrem> _plans = [];
    private readonly Dictionary<string, int> _gateways = [];
    private readonly TempDirectory _auditLogs = new("keyless-audit");

    private TenantTestCluster(string tenant) => Tenant = tenant;

    public string Tenant { get; }

    public InProcessTestCluster Cluster { get; private set; } = null!;

    /// <summary>A client of the tenant's cluster through its gateways only (static clustering), like an edge.</summary>
    public IClusterClient Edge => Cluster.Client;

    public static async Task<TenantTestCluster> StartAsync(string tenant, params SiloPlan.OnPrem[] replicas)
    {
        var result = new TenantTestCluster(tenant);
        for (var i = 0; i < replicas.Length; i++) result._plans[$"Silo_{i}"] = replicas[i];
        var builder = new InProcessTestClusterBuilder((short)replicas.Length);
        builder.Options.ConfigureFileLogging = false;
        builder.Options.ClusterId = TenantCluster.ClusterId(tenant);
        builder.Options.ServiceId = TenantCluster.ServiceId;
        builder.Options.GatewayPerSilo = true;
        builder.ConfigureSilo((options, silo) =>
        {
            var plan = result._plans[options.SiloName];
            result._gateways[options.SiloName] = options.GatewayPort;
            silo.AddKeylessKeyServer(o =>
            {
                plan.Apply(o, Path.Combine(result._auditLogs.Path, $"{options.SiloName}.log"));
                o.KeyReloadDelay = TimeSpan.FromMilliseconds(100);
            });
        });
        // Runs when the client is built, after the silos started.
        builder.ConfigureClient(client => client.UseStaticClustering([.. result._gateways.Values.Select(port => new IPEndPoint(IPAddress.Loopback, port))]));
        // The test host also gives its client the silos' membership table as gateway list; an edge knows only the
        // gateways the operator recorded, so that registration goes (the container callback runs after all others).
        builder.ConfigureClientHost(host => host.ConfigureContainer(new DefaultServiceProviderFactory(), services =>
        {
            foreach (var shared in services.Where(d => d.ServiceType == typeof(IGatewayListProvider) && d.ImplementationInstance is not null).ToList())
                services.Remove(shared);
        }));
        result.Cluster = builder.Build();
        try
        {
            await result.Cluster.DeployAsync();
            return result;
        }
        catch
        {
            await result.DisposeAsync();
            throw;
        }
    }

    public IServiceProvider Services(SiloPlan.OnPrem plan) =>
        Cluster.GetSiloServiceProvider(Cluster.Silos.Single(s => ReferenceEquals(_plans[s.Name], plan)).SiloAddress);

    public async ValueTask DisposeAsync()
    {
        if (Cluster is not null) await Cluster.DisposeAsync();
        _auditLogs.Dispose();
    }
}
