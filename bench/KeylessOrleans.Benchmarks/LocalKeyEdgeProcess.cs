using System.Runtime.InteropServices;
using KeylessOrleans.Cli.Admin;
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
using Microsoft.Extensions.Logging.Abstractions;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// The production-shape baseline, run as a process of its own (this program with --local-key-edge): the same edge
/// (AddKeylessEdge with its default options, the same admin endpoint) but with the key operations done in its own
/// process (<see cref="LocalKeyGateway"/>), as an edge holding the keys would. The `keyless` program has no such mode
/// on purpose: its edge never reads a private key. A key-server silo in the same process registers the chains with
/// the edge's registry and then idles; it holds no connection to anything else.
/// </summary>
internal static class LocalKeyEdgeProcess
{
    public const string ReadyLine = "local-key edge ready";

    [System.Runtime.Versioning.SupportedOSPlatform("linux")] // the admin endpoint, as in the keyless program
    public static async Task<int> RunAsync(string keyDirectory, int httpsPort, int originPort, int adminPort)
    {
        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });

        var operations = new KeyOperations(new PemKeyStore(keyDirectory, NullLogger<PemKeyStore>.Instance));
        var primary = KeylessProcess.FreePort();
        var edge = await BenchCluster.StartSiloAsync(primary, null, gateway: KeylessProcess.FreePort(), silo =>
        {
            silo.AddMemoryGrainStorage(KeylessOrleans.Cluster.Registry.RegistryStorage.Name).AddKeylessEdge(o =>
            {
                o.EdgeId = "local-key-edge";
                o.SharedCluster = true; // the key-server silo below registers the chains
                o.Tls.DefaultHostName = BenchCluster.Host; // openssl s_time sends no SNI
                o.Listener.HttpsPort = httpsPort;
            });
            silo.Services.AddSingleton<IKeyOperationGateway>(new LocalKeyGateway(operations));
        }, host =>
        {
            host.Configuration["Keyless:Admin:Port"] = $"{adminPort}";
            host.AddKeylessAdmin(defaultPort: adminPort);
        });
        var keyServer = await BenchCluster.StartSiloAsync(KeylessProcess.FreePort(), primary, gateway: 0, silo => silo.AddKeylessKeyServer(o =>
        {
            o.Tenant = "bench";
            o.SharedCluster = true;
            o.KeyDirectory = keyDirectory;
            o.RegistrationRetryDelay = TimeSpan.FromMilliseconds(200);
            o.AuditLog.Enabled = false;
        }));
        try
        {
            await edge.Services.GetRequiredService<IGrainFactory>().GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey)
                .SetTenantAsync(new TenantSettings("bench", [BenchCluster.Host], new OriginEndpoint("127.0.0.1", originPort)));
            var routes = edge.Services.GetRequiredService<RouteTable>();
            while (routes.Resolve(BenchCluster.Host) is not { Keys.Keys.Count: > 0 } && !stop.IsCancellationRequested)
                await Task.Delay(100, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            Console.WriteLine($"{ReadyLine} (pid {Environment.ProcessId})");
            await Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            return 0;
        }
        finally
        {
            foreach (var host in new[] { keyServer, edge })
            {
                await host.StopAsync();
                host.Dispose();
            }
        }
    }
}
