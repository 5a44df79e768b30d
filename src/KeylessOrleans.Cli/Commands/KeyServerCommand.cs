using System.CommandLine;
using KeylessOrleans.Cli.Admin;
using KeylessOrleans.Cli.Hosting;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.KeyServer.Hosting;
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
        var pkcs11 = new Option<string[]>("--pkcs11-key") { Description = "A private key in an HSM, as an RFC 7512 URI with module-path and pin-source (file:PATH or env:NAME); repeatable. Its chain goes in --keys", AllowMultipleArgumentsPerToken = false };

        var command = new Command("keyserver", "Run a tenant's key server silo: holds the private keys, answers edges' signing and decryption requests.");
        silo.AddTo(command);
        command.Options.Add(tenant);
        command.Options.Add(replica);
        command.Options.Add(keys);
        command.Options.Add(pkcs11);
        command.Options.Add(auditLog);
        command.SetAction(result => HostRunner.RunAsync(() =>
        {
            var overrides = silo.Overrides(result);
            overrides["Keyless:KeyServer:Tenant"] = result.GetValue(tenant);
            overrides["Keyless:KeyServer:Replica"] = result.GetValue(replica);
            overrides["Keyless:KeyServer:KeyDirectory"] = result.GetValue(keys);
            overrides["Keyless:KeyServer:AuditLog:Path"] = result.GetValue(auditLog);
            var uris = result.GetValue(pkcs11) ?? [];
            for (var i = 0; i < uris.Length; i++) overrides[$"Keyless:KeyServer:Pkcs11Keys:{i}"] = uris[i];
            var configFile = result.GetValue(silo.Config);
            var builder = SiloHosting.CreateBuilder(configFile, overrides);
            builder.AddKeylessAdmin(defaultPort: 9091);
            // On-prem silos never accept Orleans clients.
            var cluster = SiloHosting.ClusterOptions(builder.Configuration, defaultGatewayPort: 0);
            void Bind(IConfiguration configuration, KeyServerOptions o)
            {
                configuration.GetSection("Keyless:KeyServer").Bind(o);
                // With mutual TLS the cluster CA also certifies edges' request proofs: authenticate them.
                if (cluster.UsesTls && string.IsNullOrWhiteSpace(o.Access.EdgeCa)) o.Access.EdgeCa = cluster.TlsCa;
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
                    // The certificate the operator issued at enrolment must name this very tenant and replica.
                    var settings = new KeyServerOptions();
                    builder.Configuration.GetSection("Keyless:KeyServer").Bind(settings);
                    var expected = SiloIdentity.OnPrem(settings.Tenant, settings.Replica);
                    orleans.UseKeylessTls(cluster, identity => identity == expected ? null : $"this key server runs as {expected} but its certificate names {identity}");
                }
                orleans.AddKeylessKeyServer(o => Bind(builder.Configuration, o));
            });
            return builder.Build();
        }));
        return command;
    }
}
