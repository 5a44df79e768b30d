namespace KeylessOrleans.Cluster.Security;

/// <summary>
/// Which identities (by role) a silo accepts on its silo port and its gateway port; outgoing silo connections
/// accept the silo-port roles too (a silo connects only to other silos' silo ports).
/// </summary>
public sealed record ClusterPeers(IReadOnlySet<string> SiloPort, IReadOnlySet<string> Gateway)
{
    private static readonly string[] AllRoles = [SiloIdentity.EdgeRole, SiloIdentity.OperatorRole, SiloIdentity.OnPremRole];

    /// <summary>Any identity the cluster CA issued.</summary>
    public static ClusterPeers Any { get; } = new(new HashSet<string>(AllRoles), new HashSet<string>(AllRoles));

    /// <summary>
    /// The operator's cluster: edges talk to edges; the gateway serves edges and operator tools; tenants' key
    /// servers stay out — except with <paramref name="sharedCluster"/> (edges and key servers of one organization),
    /// where on-prem silos are members.
    /// </summary>
    public static ClusterPeers OperatorCluster(bool sharedCluster) => new(
        new HashSet<string>(sharedCluster ? [SiloIdentity.EdgeRole, SiloIdentity.OnPremRole] : [SiloIdentity.EdgeRole]),
        new HashSet<string>([SiloIdentity.EdgeRole, SiloIdentity.OperatorRole]));
}

/// <summary>The operator's cluster CA, as this silo knows it: edges check call proofs against it.</summary>
internal sealed record ClusterAuthority(System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate);
