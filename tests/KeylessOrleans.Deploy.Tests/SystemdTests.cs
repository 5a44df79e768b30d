using System.Diagnostics;
using System.Text.RegularExpressions;

namespace KeylessOrleans.Deploy.Tests;

/// <summary>deploy/systemd: the two units (checked by systemd-analyze verify) and the example env files.</summary>
public partial class SystemdTests
{
    private const string Binary = "/opt/keyless/keyless";
    private const string SystemdAnalyze = "/usr/bin/systemd-analyze";

    private static string Unit(string name) => DeployFiles.Read("systemd", name);

    /// <summary>Settings of one unit file: "Section.Key" -> every value given (later lines add, "" resets nothing here).</summary>
    internal static Dictionary<string, List<string>> Parse(string unit)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var section = "";
        foreach (var raw in unit.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            if (line.StartsWith('[')) { section = line.Trim('[', ']'); continue; }
            var eq = line.IndexOf('=');
            if (eq < 0) continue;
            var key = $"{section}.{line[..eq].Trim()}";
            if (!result.TryGetValue(key, out var values)) result[key] = values = [];
            values.Add(line[(eq + 1)..].Trim());
        }
        return result;
    }

    private static string One(Dictionary<string, List<string>> unit, string key) =>
        unit.TryGetValue(key, out var v) ? v[^1] : "<unset>";

    /// <summary>Problems with the hardening and restart policy the brief asks of every keyless unit.</summary>
    internal static List<string> CheckHardening(string unitText, bool bindsPrivilegedPort)
    {
        var unit = Parse(unitText);
        var problems = new List<string>();
        void Expect(string key, string value)
        {
            if (One(unit, $"Service.{key}") != value) problems.Add($"{key}={One(unit, $"Service.{key}")}, want {value}");
        }
        Expect("NoNewPrivileges", "yes");
        Expect("ProtectSystem", "strict");
        Expect("PrivateTmp", "yes");
        Expect("Restart", "on-failure");
        if (One(unit, "Unit.StartLimitIntervalSec") != "0")
            problems.Add($"StartLimitIntervalSec={One(unit, "Unit.StartLimitIntervalSec")}, want 0 (a silo voted out after a partition must always be restarted)");
        Expect("CapabilityBoundingSet", bindsPrivilegedPort ? "CAP_NET_BIND_SERVICE" : "");
        if (One(unit, "Service.User") == "<unset>" && One(unit, "Service.DynamicUser") != "yes")
            problems.Add("runs as root: set User= or DynamicUser=yes");
        var envFiles = unit.GetValueOrDefault("Service.EnvironmentFile") ?? [];
        if (envFiles.Count == 0 || !envFiles.All(f => f.TrimStart('-').StartsWith("/etc/keyless/", StringComparison.Ordinal) && f.EndsWith(".env", StringComparison.Ordinal)))
            problems.Add("EnvironmentFile must be /etc/keyless/*.env");
        if (unit.ContainsKey("Service.MemoryDenyWriteExecute")) problems.Add("MemoryDenyWriteExecute breaks the .NET JIT");
        return problems;
    }

    /// <summary>
    /// Runs `systemd-analyze verify` on a copy of the unit named <paramref name="fileName"/>. ExecStart is pointed
    /// aside: verify fails when the ExecStart binary is missing, and /opt/keyless/keyless exists only on a real host,
    /// so the copy runs /bin/true with the same arguments (the real ExecStart is checked by <see cref="ExecStartArguments"/>).
    /// Verify exits 0 even for unknown keys or unparsable values (it logs "…, ignoring"), so any output is a failure.
    /// </summary>
    internal static string Verify(string unitText, string fileName)
    {
        Assert.True(File.Exists(SystemdAnalyze), $"{SystemdAnalyze} is missing: apt-get install systemd");
        var copy = ExecStartBinary().Replace(unitText, "${prefix}/bin/true");
        var dir = Directory.CreateTempSubdirectory("keyless-units-");
        try
        {
            var path = Path.Combine(dir.FullName, fileName);
            File.WriteAllText(path, copy);
            var start = new ProcessStartInfo(SystemdAnalyze, ["verify", path])
            {
                RedirectStandardOutput = true, RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            var output = (stdout + stderr.Result).Trim();
            return process.ExitCode == 0 && output.Length == 0 ? "" : $"exit {process.ExitCode}: {output}";
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The real ExecStart: its binary and its arguments with %i and ${VAR} left as written.</summary>
    internal static (string Binary, List<string> Arguments) ExecStartArguments(string unitText)
    {
        var words = One(Parse(unitText), "Service.ExecStart").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (words[0], words.Skip(1).ToList());
    }

    [GeneratedRegex(@"^(?<prefix>ExecStart=[-@:+!]*)\S+", RegexOptions.Multiline)]
    private static partial Regex ExecStartBinary();

    [Theory]
    [InlineData("keyless-edge.service", "keyless-edge.service")]
    [InlineData("keyless-keyserver@.service", "keyless-keyserver@.service")]
    [InlineData("keyless-keyserver@.service", "keyless-keyserver@primary.service")] // an instance, %i expanded
    public void Unit_passes_systemd_analyze_verify(string file, string verifyAs) =>
        Assert.Equal("", Verify(Unit(file), verifyAs));

    [Theory]
    [InlineData("keyless-edge.service", true)]
    [InlineData("keyless-keyserver@.service", false)]
    public void Unit_is_hardened(string file, bool bindsPrivilegedPort) =>
        Assert.Empty(CheckHardening(Unit(file), bindsPrivilegedPort));

    [Fact]
    public void Key_server_reads_its_keys_read_only_and_edge_cannot_see_them()
    {
        Assert.Contains("/var/lib/keyless/keys", Parse(Unit("keyless-keyserver@.service"))["Service.ReadOnlyPaths"]);
        Assert.Contains("-/var/lib/keyless/keys", Parse(Unit("keyless-edge.service"))["Service.InaccessiblePaths"]);
    }

    [Theory]
    [InlineData("keyless-edge.service", "edge.env.example", "edge")]
    [InlineData("keyless-keyserver@.service", "keyserver.env.example", "keyserver")]
    public void ExecStart_and_env_file_use_the_command_surface(string file, string envFile, string subcommand)
    {
        var unit = Unit(file);
        var (binary, arguments) = ExecStartArguments(unit);
        Assert.Equal(Binary, binary);
        Assert.Equal(subcommand, arguments[0]);
        Assert.Empty(CommandSurface.CheckCommand(arguments));

        // ${VAR} in ExecStart are expanded by systemd from the env file: each must be defined there and is the
        // only kind of non-KEYLESS__ variable the env file may hold.
        var expanded = arguments.SelectMany(a => Regex.Matches(a, @"\$\{(\w+)\}").Select(m => m.Groups[1].Value)).ToList();
        var names = DeployFiles.Read("systemd", envFile).Split('\n')
            .Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('=')[0]).ToList();
        Assert.Empty(CommandSurface.CheckEnvironment(names, expanded));
        Assert.All(expanded, v => Assert.Contains(v, names));
        // Edges (Redis clustering): without it a silo advertises its first IPv4 address, often not the reachable one.
        // Key server (localhost clustering): without it both ports stay on loopback, out of the edges' reach.
        Assert.Contains("KEYLESS__CLUSTER__ADVERTISEDADDRESS", names);
    }

    /// <summary>The settings an env file assigns (NAME -> value), comments skipped.</summary>
    private static Dictionary<string, string> Settings(string envFile) =>
        DeployFiles.Read("systemd", envFile).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    [Fact]
    public void Key_server_forms_the_tenants_own_cluster_with_a_gateway_and_never_joins_the_operators()
    {
        var keyServer = Settings("keyserver.env.example");
        // Not the operator's cluster: no Redis, no shared-cluster mode, no operator cluster id.
        Assert.DoesNotContain(keyServer.Keys, k => k is "KEYLESS__CLUSTER__REDIS" or "KEYLESS__CLUSTER__CLUSTERING" or "KEYLESS__KEYSERVER__SHAREDCLUSTER"
            or "KEYLESS__CLUSTER__CLUSTERID" or "KEYLESS__CLUSTER__SERVICEID");
        Assert.DoesNotContain("--shared-cluster", ExecStartArguments(Unit("keyless-keyserver@.service")).Arguments);
        // Its gateway, mutual TLS with the tenant's CA, and the operator's CA for the edges it admits.
        Assert.Equal("30100", keyServer["KEYLESS__CLUSTER__GATEWAYPORT"]);
        Assert.StartsWith("/etc/keyless/", keyServer["KEYLESS__CLUSTER__TLSCA"], StringComparison.Ordinal);
        Assert.StartsWith("/etc/keyless/", keyServer["KEYLESS__KEYSERVER__ACCESS__EDGECA"], StringComparison.Ordinal);
        Assert.NotEqual(keyServer["KEYLESS__CLUSTER__TLSCA"], keyServer["KEYLESS__KEYSERVER__ACCESS__EDGECA"]);

        var edge = Settings("edge.env.example");
        Assert.Equal("redis", edge["KEYLESS__CLUSTER__CLUSTERING"]);
        Assert.True(edge.ContainsKey("KEYLESS__CLUSTER__TLSCA"));
        Assert.False(edge.ContainsKey("KEYLESS__EDGE__SHAREDCLUSTER")); // edges refuse on-prem silos as members
    }

    // --- the checks can fail ---

    [Fact]
    public void Verify_reports_a_bad_setting_even_though_systemd_analyze_exits_0()
    {
        var broken = Unit("keyless-edge.service").Replace("Restart=on-failure", "Restart=sometimes");
        Assert.Contains("Failed to parse service restart specifier", Verify(broken, "keyless-edge.service"));
        Assert.Contains("bad unit file setting", Verify("[Service]\nType=exec\n", "x.service")); // exits 1
    }

    [Fact]
    public void Hardening_check_reports_a_bare_unit() =>
        Assert.Equal(9, CheckHardening("[Service]\nExecStart=/opt/keyless/keyless edge\nMemoryDenyWriteExecute=yes\n", false).Count);
}
