namespace KeylessOrleans.Cli.Hosting;

/// <summary>How a silo joins the cluster (configuration section "Keyless:Cluster").</summary>
public sealed class KeylessClusterOptions
{
    public string ClusterId { get; set; } = "keyless";
    public string ServiceId { get; set; } = "keyless";

    /// <summary>This silo's port for silo-to-silo traffic.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port for Orleans clients; 0 for none (on-prem silos never need one).</summary>
    public int GatewayPort { get; set; }

    /// <summary>
    /// host:port of the primary silo for localhost clustering; empty when this silo is the primary. (Redis
    /// clustering for multi-host deployments comes with the multi-host work.)
    /// </summary>
    public string? PrimarySilo { get; set; }
}
