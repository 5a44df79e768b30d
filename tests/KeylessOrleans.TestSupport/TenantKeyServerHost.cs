using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// One replica of a tenant's key server as a cluster of its own, in this test process: a real Orleans silo on loopback
/// (localhost clustering, the tenant's cluster ids) with a gateway, configured as the product configures it
/// (<c>AddKeylessKeyServer</c>, federated). Edges of a <see cref="KeylessTestCluster"/> reach it only as clients, through
/// <see cref="Endpoint"/>, exactly as production edges reach a tenant.
/// </summary>
public sealed class TenantKeyServerHost : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly TempDirectory _auditLogs;

    private TenantKeyServerHost(IHost host, string tenant, string replica, int gatewayPort, TempDirectory auditLogs)
    {
        (_host, Tenant, Replica, GatewayPort, _auditLogs) = (host, tenant, replica, gatewayPort, auditLogs);
    }

    public string Tenant { get; }
    public string Replica { get; }
    public int GatewayPort { get; }
    public int SiloPort { get; private init; }
    public IServiceProvider Services => _host.Services;

    /// <summary>What the operator records for this replica.</summary>
    public KeyServerEndpoint Endpoint => new(Replica, $"127.0.0.1:{GatewayPort}");

    /// <param name="configureSilo">Further silo configuration (e.g. a hostile test grain class, TLS).</param>
    /// <param name="calls">Records every grain call this silo handles (custody checks), e.g. the operator test cluster's recorder.</param>
    /// <param name="join">Another replica of the same tenant whose cluster this one joins (it holds the membership).</param>
    public static async Task<TenantKeyServerHost> StartAsync(
        string tenant, string replica, string keyDirectory,
        Action<KeyServerOptions>? configure = null, Action<ISiloBuilder>? configureSilo = null, bool keyServer = true,
        GrainCallRecorder? calls = null, TenantKeyServerHost? join = null)
    {
        var (siloPort, gatewayPort) = (LoopbackPorts.Take(), LoopbackPorts.Take());
        var auditLogs = new TempDirectory("keyless-tenant-audit");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            var primary = join is null ? null : new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, join.SiloPort);
            silo.UseLocalhostClustering(siloPort, gatewayPort, primary, TenantCluster.ServiceId, TenantCluster.ClusterId(tenant));
            if (calls is not null)
            {
                silo.Services.AddSingleton(calls);
                silo.AddIncomingGrainCallFilter<RecordingGrainCallFilter>();
            }
            if (keyServer)
            {
                silo.AddKeylessKeyServer(o =>
                {
                    o.Tenant = tenant;
                    o.Replica = replica;
                    o.KeyDirectory = keyDirectory;
                    o.AuditLog.Path = Path.Combine(auditLogs.Path, $"{tenant}-{replica}.log");
                    configure?.Invoke(o);
                });
            }
            configureSilo?.Invoke(silo);
        });
        var host = builder.Build();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await host.StartAsync(timeout.Token);
        }
        catch
        {
            host.Dispose();
            auditLogs.Dispose();
            throw;
        }
        return new TenantKeyServerHost(host, tenant, replica, gatewayPort, auditLogs) { SiloPort = siloPort };
    }

    private int _disposed;

    /// <summary>Stops the key server (a test may do so early, as an outage); later calls do nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _host.StopAsync(timeout.Token);
        }
        finally
        {
            _host.Dispose();
            _auditLogs.Dispose();
        }
    }
}
