using System.CommandLine;
using KeylessOrleans.Cli.Admin;
using KeylessOrleans.Cli.Hosting;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;

namespace KeylessOrleans.Cli.Commands;

internal static class EdgeCommand
{
    public static Command Create()
    {
        var silo = new SiloCommandOptions();
        var httpsPort = new Option<int?>("--https-port") { Description = "HTTPS port to terminate TLS on (default 8443)" };
        var listen = new Option<string?>("--listen") { Description = "IP address the HTTPS listener binds (default 127.0.0.1)" };
        var gatewayPort = new Option<int?>("--gateway-port") { Description = "Orleans gateway port for clients (default 30000)" };
        var edgeId = new Option<string?>("--edge-id") { Description = "This edge's id in tenants' audit trails (default: host name)" };
        var tenants = new Option<string?>("--tenants") { Description = "JSON file of tenant settings (host names, origin) to load into the registry at start" };
        var registryDir = new Option<string?>("--registry-dir")
        {
            Description = "Folder for the registry on this machine (localhost clustering; Keyless:Cluster:RegistryDirectory; default keyless-registry/<service id> under ~/.local/share)",
        };
        var sharedCluster = new Option<bool>("--shared-cluster") { Description = "Single-organization mode: tenants' key servers may join this cluster (Keyless:Edge:SharedCluster)" };

        var command = new Command("edge", "Run an edge silo: terminate TLS for registered tenants, with private-key operations done by their key servers.");
        silo.AddTo(command);
        command.Options.Add(httpsPort);
        command.Options.Add(listen);
        command.Options.Add(gatewayPort);
        command.Options.Add(edgeId);
        command.Options.Add(tenants);
        command.Options.Add(registryDir);
        command.Options.Add(sharedCluster);
        command.SetAction(result => HostRunner.RunAsync(() =>
        {
            var overrides = silo.Overrides(result);
            overrides["Keyless:Edge:Listener:HttpsPort"] = result.GetValue(httpsPort)?.ToString();
            overrides["Keyless:Edge:Listener:ListenAddress"] = result.GetValue(listen);
            overrides["Keyless:Edge:EdgeId"] = result.GetValue(edgeId);
            overrides["Keyless:Cluster:GatewayPort"] = result.GetValue(gatewayPort)?.ToString();
            overrides["Keyless:Cluster:RegistryDirectory"] = result.GetValue(registryDir);
            if (result.GetValue(sharedCluster)) overrides["Keyless:Edge:SharedCluster"] = "true";
            var builder = SiloHosting.CreateBuilder(result.GetValue(silo.Config), overrides);
            builder.AddKeylessAdmin(defaultPort: 9090);
            var cluster = SiloHosting.ClusterOptions(builder.Configuration, defaultGatewayPort: 30000);
            builder.UseOrleans(orleans =>
            {
                if (AdminHostingExtensions.WantsDashboard(builder.Configuration)) orleans.AddDashboard(); // served on the admin endpoint
                orleans.UseKeylessClustering(cluster);
                if (cluster.UsesTls)
                    orleans.UseKeylessTls(cluster, identity => identity.Role == SiloIdentity.EdgeRole ? null : $"an edge needs an edge certificate, not {identity}",
                        ClusterPeers.OperatorCluster(builder.Configuration.GetValue<bool>("Keyless:Edge:SharedCluster")));
                orleans.AddKeylessRegistryStorage(cluster);
                orleans.AddKeylessEdge(o =>
                {
                    builder.Configuration.GetSection("Keyless:Edge").Bind(o);
                    // The cluster certificate is also the edge's identity towards tenants' key servers.
                    if (cluster.UsesTls && string.IsNullOrWhiteSpace(o.IdentityCertificate))
                        (o.IdentityCertificate, o.IdentityKey) = (cluster.TlsCertificate, cluster.TlsKey);
                });
            });
            var readyWithin = TenantFileImporter.ParseReadyWithin(builder.Configuration[TenantFileImporter.ReadyWithinSetting]); // checked with or without a file
            if (result.GetValue(tenants) is { } file)
            {
                TenantFileImporter.Read(file); // a broken file is a start-up error, not a silent no-op
                builder.Services.AddSingleton(sp => new TenantFileImporter(file, readyWithin, sp.GetRequiredService<IGrainFactory>(),
                    sp.GetService<TimeProvider>() ?? TimeProvider.System, sp.GetRequiredService<ILogger<TenantFileImporter>>()));
                builder.Services.AddHostedService(sp => sp.GetRequiredService<TenantFileImporter>());
                builder.Services.AddHealthChecks().AddCheck<TenantFileReadinessCheck>(TenantFileReadinessCheck.Name, tags: [HealthTags.Ready]);
            }
            return builder.Build();
        }));
        return command;
    }
}
