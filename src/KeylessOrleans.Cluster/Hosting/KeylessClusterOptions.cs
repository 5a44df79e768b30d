using System.Net;

namespace KeylessOrleans.Cluster.Hosting;

/// <summary>How a silo or client finds the cluster (configuration section "Keyless:Cluster").</summary>
public sealed class KeylessClusterOptions
{
    public const string LocalhostClustering = "localhost";
    public const string RedisClustering = "redis";

    /// <summary>
    /// "localhost" (one machine, membership held by the primary silo) or "redis". Unset: redis when
    /// <see cref="Redis"/> is given, else localhost (the embedded default).
    /// </summary>
    public string? Clustering { get; set; }

    /// <summary>Redis for clustering and registry storage when <see cref="Clustering"/> is "redis": host:port or a StackExchange.Redis configuration string.</summary>
    public string? Redis { get; set; }

    public string ClusterId { get; set; } = "keyless";
    public string ServiceId { get; set; } = "keyless";

    /// <summary>This silo's port for silo-to-silo traffic. Every other silo must be able to reach it (full mesh).</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>
    /// Port for Orleans clients; 0 for none. Edges open one for the tenant CLI; a key server in its tenant's own cluster
    /// opens one for the edges (default 30100); a key server in a shared cluster opens none.
    /// </summary>
    public int GatewayPort { get; set; }

    /// <summary>Localhost clustering: host:port of the primary silo; empty on the primary itself.</summary>
    public string? PrimarySilo { get; set; }

    /// <summary>
    /// The address other silos (and clients) use to reach this one. Redis clustering: default this host's first IPv4
    /// address, or loopback. Localhost clustering: unset keeps both ports on loopback; set, they listen on every address
    /// and this one is advertised (a tenant's single key server that edges on other hosts reach).
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>This process's cluster certificate (PEM). With <see cref="TlsKey"/> and <see cref="TlsCa"/> it turns on mutual TLS on every silo link.</summary>
    public string? TlsCertificate { get; set; }

    /// <summary>The private key of <see cref="TlsCertificate"/> (PEM, mode 0600).</summary>
    public string? TlsKey { get; set; }

    /// <summary>
    /// The CA certificate (PEM) that issues this cluster's certificates: peers must present a certificate it issued.
    /// The operator's cluster CA for edges and operator tools; for a key server in its tenant's own cluster, the
    /// tenant's CA (edges at its gateway are checked against Keyless:KeyServer:Access:EdgeCa instead).
    /// </summary>
    public string? TlsCa { get; set; }

    /// <summary>
    /// First timeout of a liveness probe between silos (Orleans adapts it per peer within half to four times
    /// this). A silo missing <see cref="MissedProbesLimit"/> probes is suspected; two suspicions declare it dead.
    /// Orleans' 5 s default takes 15–20 s to retire a crashed silo; 2 s does it in about 5 s on a LAN. Raise it
    /// for on-prem silos behind slow or lossy links, where a false death declaration costs more than a late one.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Missed probes after which a silo is suspected (Orleans' default, 3).</summary>
    public int MissedProbesLimit { get; set; } = 3;

    /// <summary>
    /// How often the silo re-reads the membership table (Orleans' TableRefreshTimeout). Joins and deaths normally
    /// arrive by gossip at once; this read is how a silo that was cut off learns what happened meanwhile — among
    /// other things that it was declared dead, after which Orleans stops it and its supervisor starts it afresh.
    /// Lower it (5 s) on on-prem silos behind a WAN, so they come back sooner after a long partition.
    /// </summary>
    public TimeSpan MembershipRefreshInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Lets a silo join a Redis (multi-host) cluster without <see cref="TlsCertificate"/>/<see cref="TlsKey"/>/<see cref="TlsCa"/>.
    /// Off by default: across machines, plaintext silo links let anyone on the network read key-operation answers and
    /// join the cluster (membership is trust). Only for a lab or a single host running several silos.
    /// </summary>
    public bool AllowPlaintextMultiHost { get; set; }

    /// <summary>
    /// Single-machine mode: the folder where edge silos keep the registry (one file per grain state), so it outlives
    /// every silo; all edges of the machine share it. Unset: "keyless-registry/&lt;ServiceId&gt;" under the user's local
    /// data folder (~/.local/share on Linux). Redis mode keeps the registry in Redis instead.
    /// </summary>
    public string? RegistryDirectory { get; set; }

    /// <summary>
    /// <see cref="RegistryDirectory"/>, or its default; null when there is no default (no home directory to put it in,
    /// or a service id that is not a file name).
    /// </summary>
    public string? EffectiveRegistryDirectory
    {
        get
        {
            if (!string.IsNullOrWhiteSpace(RegistryDirectory)) return RegistryDirectory;
            // DoNotVerify: by default .NET answers "" when ~/.local/share does not exist yet, as for a fresh user.
            var userData = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            if (string.IsNullOrEmpty(userData) || string.IsNullOrWhiteSpace(ServiceId)
                || ServiceId is "." or ".." || ServiceId.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0) return null;
            return Path.Combine(userData, "keyless-registry", ServiceId);
        }
    }

    /// <summary>
    /// Localhost clustering with <see cref="AdvertisedAddress"/>: one machine holds the membership (the primary silo), but
    /// the ports listen on every address, so edges on other hosts reach a tenant's lone key server's gateway.
    /// </summary>
    public bool ListensBeyondLoopback => !UsesRedis && !string.IsNullOrWhiteSpace(AdvertisedAddress);

    public bool UsesTls => !string.IsNullOrWhiteSpace(TlsCertificate) || !string.IsNullOrWhiteSpace(TlsKey) || !string.IsNullOrWhiteSpace(TlsCa);

    public bool UsesRedis => Clustering is null ? !string.IsNullOrWhiteSpace(Redis) : string.Equals(Clustering, RedisClustering, StringComparison.OrdinalIgnoreCase);

    /// <summary>Checks the settings; returns the problems, each naming its setting.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Clustering is not null && !UsesRedis && !string.Equals(Clustering, LocalhostClustering, StringComparison.OrdinalIgnoreCase))
            problems.Add($"Keyless:Cluster:Clustering '{Clustering}' must be 'localhost' or 'redis'");
        if (UsesRedis && string.IsNullOrWhiteSpace(Redis))
            problems.Add("Keyless:Cluster:Redis is required with Clustering=redis (host:port)");
        if (SiloPort is < 1 or > 65535) problems.Add($"Keyless:Cluster:SiloPort {SiloPort} is out of range");
        if (GatewayPort is < 0 or > 65535) problems.Add($"Keyless:Cluster:GatewayPort {GatewayPort} is out of range");
        if (!string.IsNullOrWhiteSpace(PrimarySilo) && !IPEndPoint.TryParse(PrimarySilo, out _))
            problems.Add($"Keyless:Cluster:PrimarySilo '{PrimarySilo}' is not address:port");
        if (!string.IsNullOrWhiteSpace(AdvertisedAddress) && !IPAddress.TryParse(AdvertisedAddress, out _))
            problems.Add($"Keyless:Cluster:AdvertisedAddress '{AdvertisedAddress}' is not an IP address");
        if (UsesTls)
        {
            foreach (var (setting, path) in new[] { ("TlsCertificate", TlsCertificate), ("TlsKey", TlsKey), ("TlsCa", TlsCa) })
                if (string.IsNullOrWhiteSpace(path) || !File.Exists(path))
                    problems.Add($"Keyless:Cluster:{setting} '{path}' is not an existing file (mutual TLS needs certificate, key and CA)");
        }
        if (ProbeTimeout < TimeSpan.FromMilliseconds(500) || ProbeTimeout > TimeSpan.FromMinutes(1))
            problems.Add($"Keyless:Cluster:ProbeTimeout {ProbeTimeout} must be between 0.5 s and 1 min");
        if (MembershipRefreshInterval < TimeSpan.FromSeconds(1) || MembershipRefreshInterval > TimeSpan.FromMinutes(10))
            problems.Add($"Keyless:Cluster:MembershipRefreshInterval {MembershipRefreshInterval} must be between 1 s and 10 min");
        if (MissedProbesLimit is < 1 or > 10) problems.Add($"Keyless:Cluster:MissedProbesLimit {MissedProbesLimit} must be 1–10");
        if (RegistryDirectory is not null && RegistryProblem(RegistryDirectory) is { } registry) problems.Add(registry);
        if (string.IsNullOrWhiteSpace(ClusterId)) problems.Add("Keyless:Cluster:ClusterId must not be empty");
        if (string.IsNullOrWhiteSpace(ServiceId)) problems.Add("Keyless:Cluster:ServiceId must not be empty");
        return problems;
    }

    /// <summary>
    /// What a silo that keeps the registry needs besides <see cref="ValidateSilo"/>: in single-machine mode, a registry
    /// folder — given, or the default one.
    /// </summary>
    public IReadOnlyList<string> ValidateRegistryStorage()
    {
        if (UsesRedis) return [];
        var folder = EffectiveRegistryDirectory;
        if (folder is null)
            return ["Keyless:Cluster:RegistryDirectory is required: the default needs a home directory (HOME) and a service id that is a folder name"];
        return RegistryProblem(folder) is { } problem ? [problem] : [];
    }

    private static string? RegistryProblem(string folder)
    {
        if (string.IsNullOrWhiteSpace(folder)) return "Keyless:Cluster:RegistryDirectory must not be empty (unset it for the default folder)";
        try
        {
            return File.Exists(Path.GetFullPath(folder)) ? $"Keyless:Cluster:RegistryDirectory '{folder}' is a file, not a folder" : null;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return $"Keyless:Cluster:RegistryDirectory '{folder}' is not a valid path ({e.Message})";
        }
    }

    /// <summary>
    /// <see cref="Validate"/> and what only a silo needs: a silo reachable from other machines (Redis clustering, or an
    /// advertised address) needs mutual TLS unless <see cref="AllowPlaintextMultiHost"/> accepts the risk.
    /// </summary>
    public IReadOnlyList<string> ValidateSilo()
    {
        var problems = Validate().ToList();
        if ((UsesRedis || ListensBeyondLoopback) && !UsesTls && !AllowPlaintextMultiHost)
            problems.Add($"{(UsesRedis ? "Keyless:Cluster:Redis" : "Keyless:Cluster:AdvertisedAddress")} (silos reachable from other hosts) needs mutual TLS: set Keyless:Cluster:TlsCertificate, TlsKey and TlsCa "
                + "(or, only for a lab or one machine, accept plaintext silo links with Keyless:Cluster:AllowPlaintextMultiHost=true)");
        return problems;
    }
}
