using KeylessOrleans.TestSupport;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>A wrong setting stops the program at start with a message that names the setting; every command has --help.</summary>
public sealed class ConfigurationTests
{
    private static async Task<(int ExitCode, string Output)> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        await using var process = environment is null
            ? KeylessProcess.Start(arguments)
            : KeylessProcess.StartProgram("dotnet", [Path.Combine(AppContext.BaseDirectory, "keyless.dll"), .. arguments], environment);
        Assert.True(await process.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"keyless {string.Join(' ', arguments)} kept running");
        return (process.ExitCode, process.Output);
    }

    public static TheoryData<string[], string> BadSettings() => new()
    {
        { ["edge", "--https-port", "99999", "--silo-port", "1"], "Keyless:Edge:Listener:HttpsPort" },
        { ["edge", "--listen", "not-an-ip"], "Keyless:Edge:Listener:ListenAddress" },
        { ["edge", "--clustering", "zookeeper"], "Keyless:Cluster:Clustering" },
        { ["edge", "--clustering", "redis"], "Keyless:Cluster:Redis" },
        { ["edge", "--clustering", "redis", "--redis", "127.0.0.1:1"], "Keyless:Cluster:AllowPlaintextMultiHost" }, // multi-host without cluster TLS
        { ["keyserver", "--keys", "/nonexistent"], "Keyless:KeyServer:Tenant" },
        { ["keyserver", "--tenant", "acme", "--keys", "/nonexistent/keys"], "Keyless:KeyServer:KeyDirectory" },
        { ["keyserver", "--tenant", "acme", "--keys", "/tmp", "--tls-cert", "/nonexistent.pem"], "Keyless:Cluster:TlsCertificate" },
        { ["keyserver", "--tenant", "acme", "--keys", "/tmp", "--gateway-port", "0"], "Keyless:Cluster:GatewayPort" },
        { ["edge", "--admin-port", "70000"], "Keyless:Admin:Port" },
        { ["keyserver", "--tenant", "acme", "--admin-listen", "localhost"], "Keyless:Admin:ListenAddress" },
        { ["edge", "--admin-listen", "0.0.0.0"], "Keyless:Admin:InsecurePlainHttp" }, // plain HTTP beyond loopback, risk not named
        { ["edge", "--admin-cert", "/nonexistent/cert.pem"], "Keyless:Admin:CertificateFile and Keyless:Admin:KeyFile go together" },
        { ["edge", "--log-format", "xml"], "Keyless:Logging:Format" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task A_wrong_setting_stops_the_start_naming_the_setting(string[] arguments, string setting)
    {
        var (exitCode, output) = await RunAsync(null, arguments);
        Assert.Equal(2, exitCode);
        Assert.Contains("configuration error", output);
        Assert.Contains(setting, output);
    }

    [Theory]
    [InlineData("KEYLESS__EDGE__LIMITS__HANDSHAKETHREADS", "0", "Keyless:Edge:Limits:HandshakeThreads")]
    [InlineData("KEYLESS__CLUSTER__MEMBERSHIPREFRESHINTERVAL", "00:00:00.100", "Keyless:Cluster:MembershipRefreshInterval")]
    [InlineData("KEYLESS__EDGE__TENANTSFILEREADYWITHIN", "soon", "Keyless:Edge:TenantsFileReadyWithin")]
    public async Task Environment_variables_configure_the_same_settings(string variable, string value, string setting)
    {
        var (exitCode, output) = await RunAsync(new Dictionary<string, string> { [variable] = value }, "edge");
        Assert.Equal(2, exitCode);
        Assert.Contains(setting, output);
    }

    [Theory]
    [InlineData("demo", "--https-port")]
    [InlineData("edge", "--redis")]
    [InlineData("keyserver", "--keys")]
    [InlineData("tenant add", "--origin")]
    [InlineData("tenant remove", "name")]
    [InlineData("ca init", "--dir")]
    [InlineData("cert issue", "--csr")]
    [InlineData("cert request", "--tenant")]
    public async Task Every_command_explains_itself_with_help(string command, string mentions)
    {
        var (exitCode, output) = await RunAsync(null, [.. command.Split(' '), "--help"]);
        Assert.Equal(0, exitCode);
        Assert.Contains(mentions, output);
    }
}
