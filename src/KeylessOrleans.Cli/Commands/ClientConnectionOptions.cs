using System.CommandLine;
using KeylessOrleans.Cli.Hosting;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace KeylessOrleans.Cli.Commands;

/// <summary>How the operator's commands (tenant, status) reach the cluster: Redis, or an edge's localhost gateway.</summary>
internal sealed class ClientConnectionOptions
{
    private readonly Option<string?> _config = new("--config") { Description = "JSON configuration file (section Keyless:Cluster)" };
    private readonly Option<string?> _clustering = new("--clustering") { Description = "localhost (default) or redis" };
    private readonly Option<string?> _redis = new("--redis") { Description = "Redis host:port with --clustering redis" };
    private readonly Option<int?> _gateway = new("--gateway-port") { Description = "An edge's gateway port with localhost clustering (default 30000)" };
    private readonly Option<string?> _clusterId = new("--cluster-id") { Description = "Orleans cluster id (default keyless)" };
    private readonly Option<string?> _serviceId = new("--service-id") { Description = "Orleans service id (default keyless)" };
    private readonly ClusterTlsCommandOptions _tls = new(); // the operator certificate when the cluster uses mutual TLS

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _config, _clustering, _redis, _gateway, _clusterId, _serviceId }.Concat(_tls.All))
            command.Options.Add(option);
    }

    public Task<int> RunAsync(ParseResult result, Func<IRegistryGrain, Task<int>> action) =>
        RunAsync(result, grains => action(grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey)));

    /// <summary>Tries per command: every gateway of a small fleet, should several be dead but not yet declared so.</summary>
    private const int MaxAttempts = 5;

    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>Connects as an Orleans client, runs <paramref name="action"/>, and turns connection trouble into exit code 3.</summary>
    public async Task<int> RunAsync(ParseResult result, Func<IGrainFactory, Task<int>> action)
    {
        try
        {
            var overrides = new Dictionary<string, string?>
            {
                ["Keyless:Cluster:Clustering"] = result.GetValue(_clustering),
                ["Keyless:Cluster:Redis"] = result.GetValue(_redis),
                ["Keyless:Cluster:GatewayPort"] = result.GetValue(_gateway)?.ToString(),
                ["Keyless:Cluster:ClusterId"] = result.GetValue(_clusterId),
                ["Keyless:Cluster:ServiceId"] = result.GetValue(_serviceId),
            };
            _tls.AddOverrides(result, overrides);
            var builder = SiloHosting.CreateBuilder(result.GetValue(_config), overrides);
            builder.Logging.SetMinimumLevel(LogLevel.Error);
            builder.Logging.AddFilter("Orleans", LogLevel.None); // connection retries are reported once, below
            var cluster = SiloHosting.ClusterOptions(builder.Configuration, defaultGatewayPort: 30000);
            var startAttempts = 0;
            builder.UseOrleansClient(client =>
            {
                client.UseKeylessClustering(cluster);
                if (cluster.UsesTls) client.UseKeylessTls(cluster);
                // After a failed manifest request the client waits min(TypeMapRefreshInterval, 5 s) before trying
                // another gateway; with 1 min (the default) that is 5 s per dead-but-listed gateway, and three crashed
                // edges used up the 15 s start timeout (seen in CI). A one-shot command can refresh every second.
                client.Configure<TypeManagementOptions>(o => o.TypeMapRefreshInterval = TimeSpan.FromSeconds(1));
                client.UseConnectionRetryFilter(async (_, cancellationToken) =>
                {
                    if (++startAttempts >= MaxAttempts) return false;
                    await Task.Delay(RetryDelay, cancellationToken);
                    return true;
                });
            });
            using var host = builder.Build();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await host.StartAsync(timeout.Token);
            try
            {
                var grains = host.Services.GetRequiredService<IClusterClient>();
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        return await action(grains);
                    }
                    catch (Orleans.Runtime.Messaging.ConnectionFailedException) when (attempt < MaxAttempts)
                    {
                        // The request went to a gateway that is gone but still listed (an edge that crashed seconds
                        // ago, before membership declared it dead); it never reached a silo, and the client now
                        // counts that gateway out: the same request through another one.
                        await Task.Delay(RetryDelay);
                    }
                }
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"refused: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is OrleansException or OperationCanceledException or TimeoutException or System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync($"cannot reach the cluster ({e.GetType().Name}: {e.Message}). Check --clustering/--redis or --gateway-port, and pass --tls-cert/--tls-key/--tls-ca if the cluster uses mutual TLS.");
            return 3;
        }
    }
}
