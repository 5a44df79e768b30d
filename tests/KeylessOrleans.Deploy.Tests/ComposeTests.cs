using System.Text.Json;
using YamlDotNet.RepresentationModel;
using static KeylessOrleans.Deploy.Tests.Yaml;

namespace KeylessOrleans.Deploy.Tests;

/// <summary>deploy/compose: the compose file, its Dockerfile and tenants.json.</summary>
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

            // A silo must advertise the fixed address it has on the compose network.
            var advertise = command.SkipWhile(a => a != "--advertise").Skip(1).FirstOrDefault();
            var address = Map(Get(service, "networks")).Values.Select(n => Str(n, "ipv4_address")).FirstOrDefault();
            if (advertise is not null && advertise != address)
                problems.Add($"{name}: advertises {advertise} but its address is {address ?? "dynamic"}");
        }
        return problems;
    }

    /// <summary>compose `environment:` as a mapping (merge keys applied) or as a list of NAME=value.</summary>
    internal static IEnumerable<string> EnvironmentNames(YamlNode? environment) =>
        environment is YamlSequenceNode ? Strings(environment).Select(e => e.Split('=')[0]) : Map(environment).Keys;

    [Fact]
    public void Compose_file_parses_and_has_the_services()
    {
        var services = Map(Get(Compose(), "services")).Keys.Order();
        Assert.Equal(["edge1", "edge2", "keyserver-demo", "origin", "redis"], services);
    }

    [Fact]
    public void Services_use_only_the_keyless_command_surface() => Assert.Empty(Check(Compose()));

    [Fact]
    public void Silos_share_the_cluster_settings_and_edges_publish_8443_and_8444()
    {
        var compose = Compose();
        foreach (var silo in new[] { "edge1", "edge2", "keyserver-demo" })
        {
            var env = Map(Get(compose, $"services.{silo}.environment"));
            Assert.Equal("redis", Str(env["KEYLESS__CLUSTER__CLUSTERING"]));
            Assert.Equal("redis:6379", Str(env["KEYLESS__CLUSTER__REDIS"]));
            Assert.True(env.ContainsKey("KEYLESS__CLUSTER__TLSCA"), silo);
        }
        // Admin endpoints (/metrics, /healthz, /readyz) reach the host's loopback only.
        Assert.Equal(["8443:8443", "127.0.0.1:9090:9090"], Strings(Get(compose, "services.edge1.ports")));
        Assert.Equal(["8444:8443", "127.0.0.1:9190:9090"], Strings(Get(compose, "services.edge2.ports")));
        foreach (var edge in new[] { "edge1", "edge2" })
            Assert.Equal("0.0.0.0", Str(Map(Get(compose, $"services.{edge}.environment"))["KEYLESS__ADMIN__LISTENADDRESS"]));
        Assert.Equal(["origin", "--listen", "0.0.0.0:8080"], Strings(Get(compose, "services.origin.command")));
    }

    [Fact]
    public void Key_server_mounts_keys_read_only_and_never_the_ca_key()
    {
        var compose = Compose();
        var volumes = Strings(Get(compose, "services.keyserver-demo.volumes"));
        Assert.Contains("./keys:/var/lib/keyless/keys:ro", volumes);
        Assert.Equal("/var/lib/keyless/keys", Str(Get(compose, "services.keyserver-demo.environment.KEYLESS__KEYSERVER__KEYDIRECTORY")));
        // Only ./pki/<silo> folders and the CA certificate are mounted, never the CA folder with its private key.
        var all = Map(Get(compose, "services")).Values.SelectMany(s => Strings(Get(s, "volumes")));
        Assert.DoesNotContain(all, v => v.StartsWith("./pki:", StringComparison.Ordinal) || v.StartsWith("./pki/ca:", StringComparison.Ordinal));
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

    [Fact]
    public void Tenant_file_points_at_the_origin_service()
    {
        using var tenants = JsonDocument.Parse(DeployFiles.Read("compose", "tenants.json"));
        var origin = tenants.RootElement.GetProperty("tenants")[0].GetProperty("origin");
        Assert.Contains(origin.GetProperty("host").GetString()!, Map(Get(Compose(), "services")).Keys);
        Assert.Equal(8080, origin.GetProperty("port").GetInt32());
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

    [Theory]
    [InlineData("services:\n  edge1:\n    image: a\n   command: b\n")]         // bad indentation
    [InlineData("services:\n  edge1: {image: a\n")]                              // unclosed flow mapping
    [InlineData("services:\n  edge1: *missing\n")]                               // unknown alias
    [InlineData("services:\n  edge1: \"unterminated\n")]                         // unterminated string
    public void Broken_yaml_does_not_parse(string text) =>
        Assert.ThrowsAny<YamlDotNet.Core.YamlException>(() => LoadAll(text));
}
