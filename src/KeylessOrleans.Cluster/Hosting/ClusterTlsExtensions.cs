using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Diagnostics;
using KeylessOrleans.Cluster.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace KeylessOrleans.Cluster.Hosting;

/// <summary>
/// Mutual TLS on every silo and gateway link: each side presents a certificate from the operator's cluster CA
/// that names a keyless identity, and refuses a peer whose certificate does not, or whose role has no business on
/// that port (<see cref="ClusterPeers"/>). The same certificate signs this process's call proofs
/// (<see cref="CallProof"/>) on control-plane grain calls.
/// </summary>
public static class ClusterTlsExtensions
{
    /// <summary>The roles the connection being authenticated on this async flow may have; set per connection, before the handshake.</summary>
    private static readonly AsyncLocal<IReadOnlySet<string>?> AcceptedRoles = new();

    private static readonly IReadOnlySet<string> NoRoles = new HashSet<string>();

    /// <param name="expected">Checks this process's own identity (e.g. an on-prem silo's certificate must name its tenant).</param>
    /// <param name="peers">Who may connect to which port; null: any identity from the CA.</param>
    /// <exception cref="ArgumentException">The certificate is missing, not from the CA, or names another identity.</exception>
    public static ISiloBuilder UseKeylessTls(this ISiloBuilder silo, KeylessClusterOptions options, Func<SiloIdentity, string?> expected, ClusterPeers? peers = null)
    {
        var (certificate, authority) = Load(options, expected);
        peers ??= ClusterPeers.Any;
        // The TLS callback is built before the container; the silo's logger reaches it when the silo starts.
        var log = new RefusalLog();
        silo.Services.AddSingleton(log);
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, RefusalLogBinder>();
        silo.Services.AddSingleton(new ClusterAuthority(authority));
        silo.Services.AddSingleton(sp => new CallProofSigner(certificate, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        silo.AddOutgoingGrainCallFilter<CallProofFilter>();
        return silo.UseTls(certificate, tls =>
        {
            Configure(tls, authority, log, outgoing: peers.SiloPort);
            tls.OnAuthenticateAsServer = (connection, _) => AcceptedRoles.Value = (connection.LocalEndPoint as System.Net.IPEndPoint)?.Port switch
            {
                var port when port == options.SiloPort => peers.SiloPort,
                var port when port == options.GatewayPort && options.GatewayPort != 0 => peers.Gateway,
                _ => NoRoles,
            };
        });
    }

    /// <summary>
    /// Mutual TLS for a key server in its tenant's own cluster. One certificate (keyless://onprem/TENANT/REPLICA from
    /// the tenant's CA, <see cref="KeylessClusterOptions.TlsCa"/>) on both ports, but each listener accepts its own
    /// peers: the silo port (in and out) only on-prem silos of the same tenant certified by the tenant's CA, the gateway
    /// port only edges (keyless://edge/NAME) certified by the operator's edge CA.
    /// </summary>
    /// <remarks>
    /// Orleans builds the silo-inbound, silo-outbound and gateway-inbound connection pipelines separately
    /// (<see cref="SiloConnectionOptions"/>), so each gets TLS middleware with its own validation: the decision is
    /// made by the listener the connection arrived on, not guessed from its addresses. (Orleans' own UseTls puts one
    /// TlsOptions on all three.)
    /// </remarks>
    /// <param name="edgeCa">The operator's edge CA certificate (PEM file).</param>
    /// <exception cref="ArgumentException">A certificate is missing, not from its CA, or names another identity.</exception>
    public static ISiloBuilder UseKeylessTenantTls(this ISiloBuilder silo, KeylessClusterOptions options, string edgeCa, SiloIdentity self)
    {
        if (self.Role != SiloIdentity.OnPremRole) throw new ArgumentException($"a tenant's cluster is made of on-prem silos, not {self}");
        var (certificate, tenantCa) = Load(options, identity => identity == self ? null : $"this key server runs as {self} but its certificate names {identity}");
        if (string.IsNullOrWhiteSpace(edgeCa) || !File.Exists(edgeCa))
            throw new ArgumentException($"Keyless:KeyServer:Access:EdgeCa '{edgeCa}' (--edge-ca) is not an existing file: with mutual TLS the gateway needs the operator's edge CA, whose edges alone may connect");
        var edgeAuthority = X509CertificateLoader.LoadCertificateFromFile(edgeCa);
        var log = new RefusalLog();
        silo.Services.AddSingleton(log);
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, RefusalLogBinder>();

        var siloTls = Options(certificate, "silo", log, peer => ClusterCertificates.Problem(peer, tenantCa) ?? (SiloIdentity.FromCertificate(peer) is { Role: SiloIdentity.OnPremRole } identity && identity.Tenant == self.Tenant
            ? null
            : $"certificate '{peer.Subject}' is not an on-prem silo of tenant {self.Tenant}"));
        var gatewayTls = Options(certificate, "gateway", log, peer => ClusterCertificates.Problem(peer, edgeAuthority) ?? (SiloIdentity.FromCertificate(peer) is { Role: SiloIdentity.EdgeRole }
            ? null
            : $"certificate '{peer.Subject}' is not an edge's"));
        return silo.Configure<SiloConnectionOptions>(connections =>
        {
            connections.ConfigureSiloInboundConnection(connection => connection.UseServerTls(siloTls));
            connections.ConfigureSiloOutboundConnection(connection => connection.UseClientTls(siloTls));
            connections.ConfigureGatewayInboundConnection(connection => connection.UseServerTls(gatewayTls));
        });
    }

    private static TlsOptions Options(X509Certificate2 certificate, string port, RefusalLog log, Func<X509Certificate2, string?> problem)
    {
        var tls = new TlsOptions
        {
            LocalCertificate = certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            OnAuthenticateAsClient = (_, settings) => settings.TargetHost = "keyless-cluster", // names are not used: identities are
        };
        tls.RemoteCertificateValidation = (peer, _, _) =>
        {
            var refusal = problem(peer);
            if (refusal is not null) log.Refused($"{port} port: {refusal}");
            return refusal is null;
        };
        return tls;
    }

    /// <summary>A client of the operator's cluster (the tenant and status commands): an operator certificate, gateways of edges only.</summary>
    public static IClientBuilder UseKeylessTls(this IClientBuilder client, KeylessClusterOptions options)
    {
        var (certificate, authority) = Load(options, identity => identity.Role == SiloIdentity.OperatorRole ? null
            : $"the tenant commands need an operator certificate, not {identity}");
        client.Services.AddSingleton(sp => new CallProofSigner(certificate, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        client.AddOutgoingGrainCallFilter<CallProofFilter>();
        return client.UseTls(certificate, tls => Configure(tls, authority, new RefusalLog(), outgoing: new HashSet<string>([SiloIdentity.EdgeRole])));
    }

    private static void Configure(TlsOptions tls, X509Certificate2 authority, RefusalLog log, IReadOnlySet<string> outgoing)
    {
        tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.OnAuthenticateAsClient = (_, settings) =>
        {
            settings.TargetHost = "keyless-cluster"; // names are not used: identities are
            AcceptedRoles.Value = outgoing;
        };
        // Runs inside the handshake that OnAuthenticateAsServer/AsClient just prepared, on the same async flow, so it
        // sees that connection's accepted roles; a handshake that did not pass through them accepts no role.
        tls.RemoteCertificateValidation = (certificate, _, _) =>
        {
            var problem = ClusterCertificates.Problem(certificate, authority);
            if (problem is null && SiloIdentity.FromCertificate(certificate) is { } identity && !(AcceptedRoles.Value ?? NoRoles).Contains(identity.Role))
                problem = $"{identity} has no business on this connection (accepted here: {string.Join(", ", AcceptedRoles.Value ?? NoRoles)})";
            if (problem is not null) log.Refused(problem);
            return problem is null;
        };
    }

    /// <summary>Where refused peer certificates are reported: the silo's log once it runs, standard error before.</summary>
    private sealed class RefusalLog
    {
        public ILogger? Logger { get; set; }

        public void Refused(string problem)
        {
            if (Logger is { } logger) logger.LogWarning(EventIds.ClusterConnectionRefused, "Refused a cluster connection: {Problem}", problem);
            else Console.Error.WriteLine($"Refused a cluster connection: {problem}");
        }
    }

    private sealed class RefusalLogBinder(RefusalLog log, ILoggerFactory loggers) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) => log.Logger = loggers.CreateLogger("KeylessOrleans.Cluster.Tls");
    }

    private static (X509Certificate2 Certificate, X509Certificate2 Authority) Load(KeylessClusterOptions options, Func<SiloIdentity, string?> expected)
    {
        var problems = options.Validate();
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems));
        if (!options.UsesTls) throw new ArgumentException("Keyless:Cluster:TlsCertificate, TlsKey and TlsCa are not set");
        var authority = X509CertificateLoader.LoadCertificateFromFile(options.TlsCa!);
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(options.TlsCertificate!, options.TlsKey!);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new ArgumentException($"Keyless:Cluster:TlsCertificate/TlsKey cannot be loaded together ({e.Message})", e);
        }
        if (ClusterCertificates.Problem(certificate, authority) is { } problem)
            throw new ArgumentException($"Keyless:Cluster:TlsCertificate: {problem}");
        if (expected(SiloIdentity.FromCertificate(certificate)!) is { } mismatch)
            throw new ArgumentException($"Keyless:Cluster:TlsCertificate: {mismatch}");
        return (certificate, authority);
    }
}
