using YamlDotNet.RepresentationModel;
using static KeylessOrleans.Deploy.Tests.Yaml;

namespace KeylessOrleans.Deploy.Tests;

/// <summary>
/// deploy/compose: the compose file and its Dockerfile. The federated shape: the operator's side (Redis, edges, the
/// operator's `tenant add`) and the tenant's key server as a cluster of its own, reached only at its gateway.
/// </summary>
public class ComposeTests
{
    private static YamlNode Compose() => LoadOne(DeployFiles.Read("compose", "docker-compose.yml"));

    /// <summary>Problems with a compose file: every service but redis runs the keyless image with a real command and known variables.</summary>
    internal static List<string> Check(YamlNode compose)
    {
        var problems = new List<string>();
        foreach (var (name, service) in Map(Get(compose, "services")))
        {
            if (Str(service, "image") is { } image && !image.StartsWith("keyless", StringComparison.Ordinal)) continue; // redis
            var command = Strings(Get(service, "command"));
            problems.AddRange(CommandSurface.CheckCommand(command).Select(p => $"{name}: {p}"));
            problems.AddRange(CommandSurface.CheckEnvironment(EnvironmentNames(Get(service, "environment"))).Select(p => $"{name}: {p}"));

            // A silo must advertise a fixed address it has on a compose network.
            var advertise = Option(command, "--advertise");
            var addresses = Addresses(service);
            if (advertise is not null && !addresses.Contains(advertise))
                problems.Add($"{name}: advertises {advertise} but its address is {(addresses.Count > 0 ? string.Join(", ", addresses) : "dynamic")}");
        }
        return problems;
    }

    /// <summary>The value after <paramref name="option"/> in an argument list, or null.</summary>
    internal static string? Option(IReadOnlyList<string> command, string option) =>
        command.SkipWhile(a => a != option).Skip(1).FirstOrDefault();

    /// <summary>A service's fixed addresses (ipv4_address on each network it joins).</summary>
    internal static List<string> Addresses(YamlNode service) =>
        Get(service, "networks") is YamlMappingNode networks
            ? Map(networks).Values.Select(n => Str(n, "ipv4_address")).OfType<string>().ToList()
            : [];

    /// <summary>The networks a service joins (compose allows a list or a mapping).</summary>
    internal static List<string> Networks(YamlNode service) =>
        Get(service, "networks") is YamlSequenceNode list ? [.. Strings(list)] : [.. Map(Get(service, "networks")).Keys];

    /// <summary>compose `environment:` as a mapping (merge keys applied) or as a list of NAME=value.</summary>
    internal static IEnumerable<string> EnvironmentNames(YamlNode? environment) =>
        environment is YamlSequenceNode ? Strings(environment).Select(e => e.Split('=')[0]) : Map(environment).Keys;

    [Fact]
    public void Compose_file_parses_and_has_the_services()
    {
        var services = Map(Get(Compose(), "services")).Keys.Order();
        Assert.Equal(["edge1", "edge2", "keyserver-demo", "origin", "redis", "tenant-add-demo"], services);
    }

    [Fact]
    public void Services_use_only_the_keyless_command_surface() => Assert.Empty(Check(Compose()));

    [Fact]
    public void Edges_form_the_operators_cluster_over_redis_with_mutual_tls_and_publish_8443_and_8444()
    {
        var compose = Compose();
        foreach (var edge in new[] { "edge1", "edge2" })
        {
            var env = Map(Get(compose, $"services.{edge}.environment"));
            Assert.Equal("redis", Str(env["KEYLESS__CLUSTER__CLUSTERING"]));
            Assert.Equal("redis:6379", Str(env["KEYLESS__CLUSTER__REDIS"]));
            Assert.Equal("/etc/keyless/tls/cert.pem", Str(env["KEYLESS__CLUSTER__TLSCERTIFICATE"]));
            Assert.Contains($"./pki/operator-ca/ca.pem:{Str(env["KEYLESS__CLUSTER__TLSCA"])}:ro", Strings(Get(compose, $"services.{edge}.volumes")));
            Assert.Contains($"./pki/{edge}:/etc/keyless/tls:ro", Strings(Get(compose, $"services.{edge}.volumes")));
            // Not single-organization mode: edges refuse on-prem identities as cluster members.
            Assert.False(env.ContainsKey("KEYLESS__EDGE__SHAREDCLUSTER"), edge);
            Assert.DoesNotContain("--shared-cluster", Strings(Get(compose, $"services.{edge}.command")));
            Assert.Equal("0.0.0.0", Str(env["KEYLESS__ADMIN__LISTENADDRESS"]));
        }
        // Admin endpoints (/metrics, /healthz, /readyz) reach the host's loopback only.
        Assert.Equal(["8443:8443", "127.0.0.1:9090:9090"], Strings(Get(compose, "services.edge1.ports")));
        Assert.Equal(["8444:8443", "127.0.0.1:9190:9090"], Strings(Get(compose, "services.edge2.ports")));
        Assert.Equal(["origin", "--listen", "0.0.0.0:8080"], Strings(Get(compose, "services.origin.command")));
    }

    [Fact]
    public void Key_server_is_a_cluster_of_its_own_reached_only_at_its_gateway()
    {
        var compose = Compose();
        var keyServer = Get(compose, "services.keyserver-demo")!;
        var command = Strings(Get(keyServer, "command"));
        var env = Map(Get(keyServer, "environment"));

        // Never the operator's cluster: no --shared-cluster, no Redis, no operator network, no dependency on Redis.
        Assert.DoesNotContain("--shared-cluster", command);
        Assert.DoesNotContain(env.Keys, k => k is "KEYLESS__KEYSERVER__SHAREDCLUSTER" or "KEYLESS__CLUSTER__REDIS" or "KEYLESS__CLUSTER__CLUSTERING"
            or "KEYLESS__CLUSTER__CLUSTERID" or "KEYLESS__CLUSTER__SERVICEID");
        Assert.Null(Get(keyServer, "depends_on"));
        Assert.Equal(["tenant-demo"], Networks(keyServer));
        Assert.DoesNotContain(Networks(Get(compose, "services.redis")!), n => Networks(keyServer).Contains(n));

        // Its gateway is the one port it opens; nothing of it is published on the host.
        Assert.Equal("30100", Option(command, "--gateway-port"));
        Assert.Null(Get(keyServer, "ports"));
        // Mutual TLS: its own certificate and the tenant's CA (cert issue puts ca.pem next to cert.pem), and the
        // operator's CA only as --edge-ca, the edges allowed at its gateway.
        var volumes = Strings(Get(keyServer, "volumes"));
        Assert.Contains("./pki/keyserver-demo:/etc/keyless/tls:ro", volumes);
        Assert.Equal("/etc/keyless/tls/ca.pem", Str(env["KEYLESS__CLUSTER__TLSCA"]));
        Assert.Contains($"./pki/operator-ca/ca.pem:{Option(command, "--edge-ca")}:ro", volumes);
        Assert.Equal("demo", Option(command, "--tenant"));
    }

    [Fact]
    public void Operator_records_the_tenant_with_its_gateway_its_ca_and_the_operator_certificate()
    {
        var compose = Compose();
        var add = Get(compose, "services.tenant-add-demo")!;
        var command = Strings(Get(add, "command"));
        Assert.Equal(["tenant", "add", "demo"], command.Take(3));
        Assert.Equal("on-failure", Str(add, "restart")); // a one-shot, retried while the edges' cluster forms

        // --key-server points at the key server's fixed address and gateway port.
        var keyServer = Get(compose, "services.keyserver-demo")!;
        var gateway = $"{Addresses(keyServer).Single()}:{Option(Strings(Get(keyServer, "command")), "--gateway-port")}";
        Assert.Equal($"primary={gateway}", Option(command, "--key-server"));
        // --key-server-ca is the tenant's CA certificate, the one that issued the key server's (pki/tenant-demo-ca).
        var volumes = Strings(Get(add, "volumes"));
        Assert.Contains($"./pki/tenant-demo-ca/ca.pem:{Option(command, "--key-server-ca")}:ro", volumes);
        // The operator's certificate, from the operator's CA, against the edges' cluster in Redis.
        Assert.Contains("./pki/operator:/etc/keyless/tls:ro", volumes);
        Assert.Contains($"./pki/operator-ca/ca.pem:{Option(command, "--tls-ca")}:ro", volumes);
        Assert.Equal("/etc/keyless/tls/cert.pem", Option(command, "--tls-cert"));
        Assert.Equal("redis:6379", Option(command, "--redis"));
        Assert.Equal(Str(Get(compose, "services.edge1.environment.KEYLESS__CLUSTER__CLUSTERID")), Option(command, "--cluster-id"));
        Assert.Contains("operator", Networks(add));

        // --origin names the origin service.
        var origin = Option(command, "--origin")!.Split(':');
        Assert.Contains(origin[0], Map(Get(compose, "services")).Keys);
        Assert.Equal("8080", origin[1]);
    }

    [Fact]
    public void Key_server_mounts_keys_read_only_and_no_service_mounts_a_ca_folder()
    {
        var compose = Compose();
        var volumes = Strings(Get(compose, "services.keyserver-demo.volumes"));
        Assert.Contains("./keys:/var/lib/keyless/keys:ro", volumes);
        Assert.Equal("/var/lib/keyless/keys", Str(Get(compose, "services.keyserver-demo.environment.KEYLESS__KEYSERVER__KEYDIRECTORY")));
        // Only certificate folders and CA certificates are mounted, never a CA folder with its private key.
        var all = Map(Get(compose, "services")).Values.SelectMany(s => Strings(Get(s, "volumes"))).ToList();
        Assert.DoesNotContain(all, v => v.StartsWith("./pki:", StringComparison.Ordinal) || v.Contains("-key.pem", StringComparison.Ordinal)
            || (v.StartsWith("./pki/", StringComparison.Ordinal) && v.Split(':')[0].EndsWith("-ca", StringComparison.Ordinal)));
        // The site keys only on the tenant's side.
        Assert.Single(all, v => v.StartsWith("./keys:", StringComparison.Ordinal));
    }

    [Fact]
    public void Dockerfile_publishes_the_cli_on_the_net10_images()
    {
        var compose = Compose();
        var dockerfile = Str(Get(compose, "services.edge1.build.dockerfile"))!;
        var context = Path.GetFullPath(Path.Combine(DeployFiles.Path("compose"), Str(Get(compose, "services.edge1.build.context"))!));
        var text = File.ReadAllText(Path.Combine(context, dockerfile));
        Assert.Contains("FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build", text);
        Assert.Contains("FROM mcr.microsoft.com/dotnet/aspnet:10.0", text); // the admin endpoint needs the ASP.NET Core shared framework
        Assert.Contains("dotnet publish src/KeylessOrleans.Cli", text);
        Assert.True(Directory.Exists(Path.Combine(context, "src", "KeylessOrleans.Cli")), "build context is the repo root");
    }

    // --- the checks can fail ---

    [Fact]
    public void Check_reports_unknown_commands_variables_and_wrong_advertise()
    {
        var bad = LoadOne("""
            x-env: &env
              KEYLESS__CLUSTER__REDIS: redis:6379
              KEYLESS__EDGE__HTTPS_PORT: "443"
            services:
              redis: { image: "redis:7" }
              a: { image: keyless:local, command: ["serve"] }
              b: { image: keyless:local, command: ["edge", "--port", "1"], environment: { <<: *env } }
              c:
                image: keyless:local
                command: ["keyserver", "--advertise", "10.0.0.9"]
                environment: ["KEYLESS__KEYSERVER__TENANT=x", "HOME=/"]
                networks: { n: { ipv4_address: 10.0.0.8 } }
            """);
        var problems = Check(bad);
        Assert.Contains(problems, p => p.StartsWith("a: 'serve'", StringComparison.Ordinal));
        Assert.Contains("b: 'keyless edge' has no option --port", problems);
        Assert.Contains("b: KEYLESS__EDGE__HTTPS_PORT is not a keyless setting", problems);
        Assert.Contains("c: HOME is not a keyless environment variable", problems);
        Assert.Contains("c: advertises 10.0.0.9 but its address is 10.0.0.8", problems);
        Assert.Equal(5, problems.Count);
    }
}
