using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Status;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Diagnostics;

/// <summary>Sends this edge's <see cref="HandshakeWindow"/> to the cluster status grain every <see cref="EdgeControlPlaneOptions.StatusReportInterval"/>.</summary>
internal sealed partial class EdgeStatusReporter(
    IGrainFactory grains,
    HandshakeWindow window,
    Routing.RouteTable routes,
    ILocalSiloDetails silo,
    TimeProvider time,
    IOptions<EdgeOptions> options,
    ILogger<EdgeStatusReporter> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var status = grains.GetGrain<IClusterStatusGrain>(IClusterStatusGrain.DefaultKey);
        return PollingLoop.RunAsync(async stopping =>
            {
                var report = new EdgeStatusReport(options.Value.EdgeId, silo.SiloAddress.ToParsableString(), time.GetUtcNow(),
                    HandshakeWindow.Length, window.Snapshot(), window.OpenConnections, Admitted());
                await status.ReportEdgeAsync(report).WaitAsync(TimeSpan.FromSeconds(5), stopping);
            },
            () => options.Value.ControlPlane.StatusReportInterval,
            // Status is for operators' eyes only: never let it disturb serving.
            e => LogReportFailed(e.GetType().Name, e.Message),
            stoppingToken);
    }

    private List<AdmittedReplica> Admitted() =>
        routes.Tenants.Where(t => t.IsFederated)
            .SelectMany(t => t.KeyServers!.Select(k => routes.FederatedReplica(t.Tenant, k.Replica)))
            .OfType<Registry.ReplicaRegistration>()
            .Select(r => new AdmittedReplica(r.Tenant, r.Replica,
                r.Chains.Select(c => new AdmittedKey(c.KeyId, c.Algorithm.ToString(), [.. c.HostNames], c.NotAfter)).ToList()))
            .ToList();

    [LoggerMessage(EventId = EventIds.StatusReportFailed, Level = LogLevel.Debug, Message = "Edge status report not delivered ({Error}: {Message}); will retry")]
    private partial void LogReportFailed(string error, string message);
}
