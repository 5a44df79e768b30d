using KeylessOrleans.Cluster.Hosting;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>Multi-host clustering links machines: a silo joins it only with mutual TLS, or with the risk named.</summary>
public sealed class ClusterOptionsTests
{
    [Fact]
    public void A_silo_on_redis_without_cluster_tls_is_refused_unless_plaintext_is_allowed_by_name()
    {
        var plaintext = new KeylessClusterOptions { Clustering = "redis", Redis = "127.0.0.1:6379" };
        Assert.Contains(plaintext.ValidateSilo(), p => p.Contains("Keyless:Cluster:AllowPlaintextMultiHost"));

        plaintext.AllowPlaintextMultiHost = true;
        Assert.Empty(plaintext.ValidateSilo());
    }

    [Fact]
    public void Localhost_clustering_and_clients_of_a_redis_cluster_need_no_cluster_tls()
    {
        Assert.Empty(new KeylessClusterOptions().ValidateSilo());
        Assert.Empty(new KeylessClusterOptions { Clustering = "redis", Redis = "127.0.0.1:6379" }.Validate());
    }

    [Fact]
    public void A_lone_key_server_listening_for_other_hosts_needs_cluster_tls_too()
    {
        var reachable = new KeylessClusterOptions { AdvertisedAddress = "192.0.2.10", GatewayPort = 30100 };

        Assert.True(reachable.ListensBeyondLoopback);
        Assert.Contains(reachable.ValidateSilo(), p => p.Contains("Keyless:Cluster:AdvertisedAddress") && p.Contains("AllowPlaintextMultiHost"));
    }
}
