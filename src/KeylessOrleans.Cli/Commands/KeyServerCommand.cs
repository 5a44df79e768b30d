using System.CommandLine;
using KeylessOrleans.Cli.Admin;
using KeylessOrleans.Cli.Hosting;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Cli.Commands;

internal static class KeyServerCommand
{
    public static Command Create()
    {
        var silo = new SiloCommandOptions();
        var tenant = new Option<string?>("--tenant") { Description = "The tenant whose keys this silo serves" };
        var replica = new Option<string?>("--replica") { Description = "This replica's name (default primary)" };
        var keys = new Option<string?>("--keys") { Description = "Folder of PEM private keys and certificate chains" };
        var auditLog = new Option<string?>("--audit-log") { Description = "The audit log file; {tenant} and {replica} are replaced (default keyless-audit-{tenant}-{replica}.log in the working directory)" };
        var allowNewChain = new Option<bool>("--audit-allow-new-chain") { Description = "Start a new audit chain although the key server's state says the log held one it no longer holds (deleted, cut back or replaced); the new chain's first record names the one it replaces. For one start only" };
        var gatewayPort = new Option<int?>("--gateway-port") { Description = $"Port of this key server's gateway, where the operator's edges connect as clients of the tenant's cluster (default {DefaultGatewayPort}; the one port a tenant opens to the edges). Not with --shared-cluster" };
        var edgeCa = new Option<string?>("--edge-ca") { Description = "The operator's edge CA certificate (PEM): edges must present a certificate it issued at the gateway and sign their requests with it (required with --tls-cert; default with --shared-cluster: --tls-ca)" };
        var sharedCluster = new Option<bool>("--shared-cluster") { Description = "Join the operator's cluster instead of forming the tenant's own, and register with its registry (single organization only: edges and key servers run by the same party)" };
        var pkcs11 = new Option<string[]>("--pkcs11-key") { Description = "A private key in an HSM, as an RFC 7512 URI with module-path and pin-source (file:PATH or env:NAME); repeatable. Its chain goes in --keys", AllowMultipleArgumentsPerToken = false };
        var createRejectionKeys = new Option<bool>("--pkcs11-create-implicit-rejection-keys") { Description = "Generate the missing implicit-rejection key ('<label>.implicit-rejection', an HMAC secret, sensitive and not extractable) of each HSM RSA key in its token at start. Without it, such a key refuses RSA decryption" };

        var command = new Command("keyserver", "Run a tenant's key server silo: holds the private keys, answers edges' signing and decryption requests. Its silos form the tenant's own cluster (cluster id tenant-TENANT); edges connect to its gateway.");
        silo.AddTo(command);
        command.Options.Add(tenant);
        command.Options.Add(replica);
        command.Options.Add(keys);
        command.Options.Add(pkcs11);
        command.Options.Add(createRejectionKeys);
        command.Options.Add(auditLog);
        command.Options.Add(allowNewChain);
        command.Options.Add(gatewayPort);
        command.Options.Add(edgeCa);
        command.Options.Add(sharedCluster);
        command.SetAction(result => HostRunner.RunAsync(() =>
        {
            var overrides = silo.Overrides(result);
            overrides["Keyless:KeyServer:Tenant"] = result.GetValue(tenant);
            overrides["Keyless:KeyServer:Replica"] = result.GetValue(replica);
            overrides["Keyless:KeyServer:KeyDirectory"] = result.GetValue(keys);
            overrides["Keyless:KeyServer:AuditLog:Path"] = result.GetValue(auditLog);
            if (result.GetValue(allowNewChain)) overrides["Keyless:KeyServer:AuditLog:AllowNewChain"] = "true";
            overrides["Keyless:Cluster:GatewayPort"] = result.GetValue(gatewayPort)?.ToString();
            overrides["Keyless:KeyServer:Access:EdgeCa"] = result.GetValue(edgeCa);
            if (result.GetValue(sharedCluster)) overrides["Keyless:KeyServer:SharedCluster"] = "true";
            var uris = result.GetValue(pkcs11) ?? [];
            for (var i = 0; i < uris.Length; i++) overrides[$"Keyless:KeyServer:Pkcs11Keys:{i}"] = uris[i];
            if (result.GetValue(createRejectionKeys)) overrides["Keyless:KeyServer:Pkcs11CreateImplicitRejectionKeys"] = "true";
            var configFile = result.GetValue(silo.Config);
            var builder = SiloHosting.CreateBuilder(configFile, overrides);
            builder.AddKeylessAdmin(defaultPort: 9091);
            var declared = new KeyServerOptions();
            builder.Configuration.GetSection("Keyless:KeyServer").Bind(declared);
            var cluster = ClusterOptions(builder.Configuration, declared);
            void Bind(IConfiguration configuration, KeyServerOptions o)
            {
                configuration.GetSection("Keyless:KeyServer").Bind(o);
                // In a shared cluster the operator's cluster CA also certifies edges' request proofs: authenticate them.
                // A tenant's own cluster CA certifies no edge: there the edge CA is given explicitly.
                if (o.SharedCluster && cluster.UsesTls && string.IsNullOrWhiteSpace(o.Access.EdgeCa)) o.Access.EdgeCa = cluster.TlsCa;
            }
            if (configFile is not null)
            {
                // Saving the --config file re-applies the tenant's access policy (allowed edges, RSA decryption, rates),
                // read afresh from all sources; a file that is missing or does not parse changes nothing.
                var path = Path.GetFullPath(configFile);
                builder.Services.AddSingleton(new KeyServerSettings(o => Bind(SiloHosting.ReadAgain(configFile, overrides), o)));
                builder.Services.AddSingleton<IOptionsChangeTokenSource<KeyServerOptions>>(_ => new FileChangeTokenSource(path)); // disposed with the host: its file watcher too
            }
            builder.UseOrleans(orleans =>
            {
                orleans.UseKeylessClustering(cluster);
                if (cluster.UsesTls)
                {
                    // The certificate must name this very tenant and replica (issued by the operator at enrolment in a
                    // shared cluster, by the tenant's own CA otherwise).
                    var expected = SiloIdentity.OnPrem(declared.Tenant, declared.Replica);
                    if (declared.SharedCluster)
                        orleans.UseKeylessTls(cluster, identity => identity == expected ? null : $"this key server runs as {expected} but its certificate names {identity}");
                    else
                        orleans.UseKeylessTenantTls(cluster, declared.Access.EdgeCa ?? "", expected);
                }
                orleans.AddKeylessKeyServer(o => Bind(builder.Configuration, o));
            });
            return builder.Build();
        }));
        return command;
    }

    /// <summary>The gateway port a key server in its tenant's own cluster opens unless told otherwise.</summary>
    public const int DefaultGatewayPort = 30100;

    /// <summary>
    /// "Keyless:Cluster" for a key server. In its tenant's own cluster (the default): cluster id tenant-TENANT and
    /// service id keyless-keyserver unless configured (edges derive the same ids from the tenant's name), and a gateway
    /// for the edges. In a shared cluster: the operator's cluster as configured, and no gateway unless configured.
    /// </summary>
    /// <exception cref="ArgumentException">A key server of a tenant's own cluster without a gateway.</exception>
    internal static KeylessClusterOptions ClusterOptions(IConfiguration configuration, KeyServerOptions declared)
    {
        var cluster = SiloHosting.ClusterOptions(configuration, defaultGatewayPort: declared.SharedCluster ? 0 : DefaultGatewayPort);
        if (declared.SharedCluster) return cluster;
        if (configuration["Keyless:Cluster:ClusterId"] is null) cluster.ClusterId = TenantCluster.ClusterId(declared.Tenant);
        if (configuration["Keyless:Cluster:ServiceId"] is null) cluster.ServiceId = TenantCluster.ServiceId;
        if (cluster.GatewayPort == 0)
            throw new ArgumentException("Keyless:Cluster:GatewayPort must not be 0: edges reach a key server of a tenant's own cluster only through its gateway (or set Keyless:KeyServer:SharedCluster)");
        return cluster;
    }
}
