using System.CommandLine;
using System.Net;
using KeylessOrleans.Cli.Hosting;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Registry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeylessOrleans.Cli.Commands;

/// <summary>The operator's tenant commands: connect to the cluster as a client and change or read the registry.</summary>
internal static class TenantCommand
{
    public static Command Create()
    {
        var command = new Command("tenant", "Add, list, show and remove tenants (operator). Changes reach every edge within seconds.");
        var connection = new ClientConnectionOptions();

        var name = new Argument<string>("name") { Description = "Tenant name: a-z, 0-9, '-', '.'" };
        var hosts = new Option<string[]>("--host") { Description = "A host name the tenant may serve (exact or *.example.com); repeat for more", Required = true, AllowMultipleArgumentsPerToken = true };
        var origin = new Option<string>("--origin") { Description = "The tenant's origin, host:port (plain TCP from the edge)", Required = true };
        var proxy = new Option<bool>("--proxy-protocol") { Description = "Send a PROXY protocol v2 header with the client address to the origin" };
        var h2 = new Option<bool>("--h2") { Description = "The origin speaks HTTP/2 (cleartext): offer h2 by ALPN" };
        var noRsa = new Option<bool>("--no-rsa-key-exchange") { Description = "Refuse TLS 1.2 RSA key exchange (no forward secrecy) for this tenant" };
        var keyServers = new Option<string[]>("--key-server")
        {
            Description = "A replica of the tenant's key server as REPLICA=HOST:PORT (its gateway, reached over mutual TLS); repeat for more. "
                + "Omit only in single-organization mode, where key servers join the operator's cluster",
            AllowMultipleArgumentsPerToken = true,
        };
        var keyServerCa = new Option<string?>("--key-server-ca") { Description = "PEM file of the CA that issues the tenant's key-server certificates (required with --key-server when edges use mutual TLS)" };
        var add = new Command("add", "Add a tenant, or replace its settings.") { name, hosts, origin, proxy, h2, noRsa, keyServers, keyServerCa };
        connection.AddTo(add);
        add.SetAction(result => connection.RunAsync(result, async registry =>
        {
            if (!TryParseOrigin(result.GetValue(origin)!, out var host, out var port))
            {
                await Console.Error.WriteLineAsync($"--origin '{result.GetValue(origin)}' is not host:port");
                return 2;
            }
            var servers = new List<KeyServerEndpoint>();
            foreach (var server in result.GetValue(keyServers) ?? [])
            {
                var parts = server.Split('=', 2);
                if (parts.Length != 2 || !TryParseOrigin(parts[1], out _, out _))
                {
                    await Console.Error.WriteLineAsync($"--key-server '{server}' is not REPLICA=HOST:PORT");
                    return 2;
                }
                servers.Add(new KeyServerEndpoint(parts[0], parts[1]));
            }
            string? caPem = null;
            if (result.GetValue(keyServerCa) is { } caFile)
            {
                if (!File.Exists(caFile))
                {
                    await Console.Error.WriteLineAsync($"--key-server-ca '{caFile}' does not exist");
                    return 2;
                }
                caPem = await File.ReadAllTextAsync(caFile);
            }
            var settings = new TenantSettings(result.GetValue(name)!, result.GetValue(hosts)!.Select(HostNames.Normalize).ToList(),
                new OriginEndpoint(host, port, result.GetValue(proxy), result.GetValue(h2)), !result.GetValue(noRsa),
                servers.Count > 0 ? servers : null, caPem);
            var version = await registry.SetTenantAsync(settings);
            Console.WriteLine($"tenant {settings.Tenant} set (tenant version {version})");
            return 0;
        }));

        var list = new Command("list", "List tenants, their host names, origins and key-server replicas.");
        connection.AddTo(list);
        list.SetAction(result => connection.RunAsync(result, async registry =>
        {
            Console.WriteLine($"{"TENANT",-16} {"HOST NAMES",-40} {"ORIGIN",-24} {"REPLICAS"}");
            var names = await registry.ListTenantsAsync(null, IRegistryGrain.MaxTenantPage);
            foreach (var batch in names.Chunk(64))
            foreach (var record in (await Task.WhenAll(batch.Select(registry.GetTenantAsync))).OfType<TenantRecord>())
            {
                var tenant = record.Settings;
                var replicas = tenant.IsFederated
                    ? tenant.KeyServers!.Select(k => k.Replica).Order()
                    : record.Replicas.Select(r => r.Replica).Order();
                Console.WriteLine($"{tenant.Tenant,-16} {string.Join(",", tenant.HostNames),-40} {tenant.Origin.Host + ":" + tenant.Origin.Port,-24} {string.Join(",", replicas)}");
            }
            return 0;
        }));

        var showName = new Argument<string>("name") { Description = "Tenant name" };
        var show = new Command("show", "Show one tenant: settings, replicas and registered certificates.") { showName };
        connection.AddTo(show);
        show.SetAction(result => connection.RunAsync(result, async registry =>
        {
            var record = await registry.GetTenantAsync(result.GetValue(showName)!);
            var tenant = record?.Settings;
            if (tenant is null)
            {
                await Console.Error.WriteLineAsync($"tenant '{result.GetValue(showName)}' does not exist");
                return 1;
            }
            Console.WriteLine($"tenant:      {tenant.Tenant}");
            Console.WriteLine($"host names:  {string.Join(", ", tenant.HostNames)}");
            Console.WriteLine($"origin:      {tenant.Origin.Host}:{tenant.Origin.Port}{(tenant.Origin.ProxyProtocol ? " (PROXY v2)" : "")}{(tenant.Origin.Http2 ? " (h2)" : "")}");
            Console.WriteLine($"RSA key exchange: {(tenant.AllowRsaKeyExchange ? "allowed" : "refused")}");
            Console.WriteLine(tenant.IsFederated
                ? $"key servers: {string.Join(", ", tenant.KeyServers!.Select(k => $"{k.Replica}={k.Gateway}"))} (own cluster{(tenant.KeyServerCa is null ? ", no CA recorded: plaintext" : ", mutual TLS")})"
                : "key servers: members of the operator's cluster (single-organization mode)");
            foreach (var replica in record!.Replicas.OrderBy(r => r.Replica, StringComparer.Ordinal))
            {
                Console.WriteLine($"replica {replica.Replica}:");
                foreach (var chain in replica.Chains)
                    Console.WriteLine($"  key {chain.KeyId[..16]}… {chain.Algorithm,-10} {string.Join(",", chain.HostNames)} (expires {chain.NotAfter:yyyy-MM-dd})");
            }
            return 0;
        }));

        var removeName = new Argument<string>("name") { Description = "Tenant name" };
        var remove = new Command("remove", "Remove a tenant: edges stop serving its host names.") { removeName };
        connection.AddTo(remove);
        remove.SetAction(result => connection.RunAsync(result, async registry =>
        {
            var version = await registry.RemoveTenantAsync(result.GetValue(removeName)!);
            Console.WriteLine($"tenant {result.GetValue(removeName)} removed (tenant version {version})");
            return 0;
        }));

        command.Subcommands.Add(add);
        command.Subcommands.Add(list);
        command.Subcommands.Add(show);
        command.Subcommands.Add(remove);
        return command;
    }

    private static bool TryParseOrigin(string value, out string host, out int port)
    {
        host = "";
        port = 0;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], out port) || port is < 1 or > 65535) return false;
        host = value[..colon].Trim('[', ']');
        return Uri.CheckHostName(host) != UriHostNameType.Unknown;
    }
}
