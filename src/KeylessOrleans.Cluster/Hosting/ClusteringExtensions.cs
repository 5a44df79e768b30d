using System.Net;
using System.Net.Sockets;
using KeylessOrleans.Cluster.Registry;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using StackExchange.Redis;

namespace KeylessOrleans.Cluster.Hosting;

/// <summary>Clustering for silos and clients: localhost (one machine) or Redis (multi-host).</summary>
public static class ClusteringExtensions
{
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public static ISiloBuilder UseKeylessClustering(this ISiloBuilder silo, KeylessClusterOptions options)
    {
        ThrowIfInvalid(options.ValidateSilo());
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = options.ProbeTimeout;
            o.NumMissedProbesLimit = options.MissedProbesLimit;
            // Joins and deaths travel by gossip at once; the periodic table read is only the safety net.
            o.TableRefreshTimeout = options.MembershipRefreshInterval;
        });
        if (!options.UsesRedis)
        {
            var primary = string.IsNullOrWhiteSpace(options.PrimarySilo) ? null : IPEndPoint.Parse(options.PrimarySilo);
            if (!options.ListensBeyondLoopback)
                return silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, primary, options.ServiceId, options.ClusterId);
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
            var address = IPAddress.Parse(options.AdvertisedAddress!);
            silo.ConfigureEndpoints(address, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
            return silo.UseDevelopmentClustering(primary ?? new IPEndPoint(address, options.SiloPort));
        }

        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        var advertised = string.IsNullOrWhiteSpace(options.AdvertisedAddress) ? DefaultAddress() : IPAddress.Parse(options.AdvertisedAddress);
        silo.ConfigureEndpoints(advertised, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
        silo.UseRedisClustering(o => o.ConfigurationOptions = RedisConfiguration(options));
        return silo;
    }

    /// <summary>
    /// The registry's grain storage on edge silos: Redis in multi-host mode, files in
    /// <see cref="KeylessClusterOptions.EffectiveRegistryDirectory"/> on a single machine. Either way the registry
    /// outlives every edge silo: memory storage would keep it in grains on the silos themselves.
    /// </summary>
    /// <exception cref="ArgumentException">There is no usable registry folder; the message names the setting.</exception>
    public static ISiloBuilder AddKeylessRegistryStorage(this ISiloBuilder silo, KeylessClusterOptions options)
    {
        if (options.UsesRedis)
            return silo.AddRedisGrainStorage(RegistryStorage.Name, o => o.ConfigurationOptions = RedisConfiguration(options));
        ThrowIfInvalid(options.ValidateRegistryStorage());
        var folder = options.EffectiveRegistryDirectory!;
        return silo.AddFileGrainStorage(RegistryStorage.Name, o => o.Directory = folder);
    }

    /// <summary>A client of the cluster (the operator's tenant commands): through Redis, or a localhost gateway.</summary>
    public static IClientBuilder UseKeylessClustering(this IClientBuilder client, KeylessClusterOptions options)
    {
        ThrowIfInvalid(options.Validate());
        if (!options.UsesRedis)
            return client.UseLocalhostClustering(options.GatewayPort == 0 ? 30000 : options.GatewayPort, options.ServiceId, options.ClusterId);
        client.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        return client.UseRedisClustering(o => o.ConfigurationOptions = RedisConfiguration(options));
    }

    private static ConfigurationOptions RedisConfiguration(KeylessClusterOptions options)
    {
        var configuration = ConfigurationOptions.Parse(options.Redis!);
        configuration.AbortOnConnectFail = false; // keep retrying while Redis restarts
        // Reconnect within ~2 s of Redis becoming reachable again (the client's default backs off to ~10 s): a silo
        // cut off by a partition learns from the membership table whether it was declared dead, and one that was is
        // stopped by Orleans and restarted by its supervisor, so this wait is part of the tenant's outage. One
        // connection attempt every 2 s while Redis is unreachable costs nothing.
        configuration.ReconnectRetryPolicy = new ExponentialRetry(500, 2000);
        return configuration;
    }

    private static void ThrowIfInvalid(IReadOnlyList<string> problems)
    {
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems));
    }

    private static IPAddress DefaultAddress() =>
        Dns.GetHostAddresses(Dns.GetHostName()).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
        ?? IPAddress.Loopback;
}
