using System.Net;
using System.Security.Cryptography;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Load;

namespace KeylessOrleans.Reliability.Tests;

/// <summary>
/// A multi-host cluster on loopback, each part its own process as in production: Redis (with its append-only
/// file, as an operator runs it), two edges, tenant "alpha" with two key-server replicas and tenant "beta" with
/// one. Tests kill and restart parts by PID; each test leaves the cluster whole again for the next.
/// </summary>
public sealed class FaultCluster : IAsyncLifetime
{
    public const string AlphaHost = "alpha.test";
    public const string BetaHost = "beta.test";

    private readonly TempDirectory _files = new("keyless-fault");
    private readonly TestCertificateAuthority _ca = new();
    private TenantKeyFolder _alphaKeys = null!;
    private TenantKeyFolder _betaKeys = null!;

    public TestOrigin Origin { get; } = new();
    public int RedisPort { get; } = KeylessProcess.FreePort();
    public string Redis => $"127.0.0.1:{RedisPort}";

    public ClusterPart RedisServer { get; private set; } = null!;
    public ClusterPart Edge1 { get; private set; } = null!;
    public ClusterPart Edge2 { get; private set; } = null!;
    public ClusterPart AlphaR1 { get; private set; } = null!;
    public ClusterPart AlphaR2 { get; private set; } = null!;
    public ClusterPart BetaR1 { get; private set; } = null!;

    public IPEndPoint Edge1Tls { get; } = new(IPAddress.Loopback, KeylessProcess.FreePort());
    public IPEndPoint Edge2Tls { get; } = new(IPAddress.Loopback, KeylessProcess.FreePort());

    private IEnumerable<ClusterPart> Parts => new[] { BetaR1, AlphaR2, AlphaR1, Edge2, Edge1, RedisServer }.Where(p => p is not null);

    public async Task InitializeAsync()
    {
        _alphaKeys = new TenantKeyFolder(_ca, [AlphaHost]);
        _betaKeys = new TenantKeyFolder(_ca, [BetaHost]);
        var redisDir = Directory.CreateDirectory(Path.Combine(_files.Path, "redis")).FullName;
        RedisServer = new ClusterPart("redis", "Ready to accept connections", RedisPort, () => KeylessProcess.StartProgram("redis-server",
            ["--port", $"{RedisPort}", "--bind", "127.0.0.1", "--dir", redisDir, "--appendonly", "yes", "--save", ""], null));
        await RedisServer.StartAsync();

        Edge1 = NewEdge("edge1", Edge1Tls.Port);
        Edge2 = NewEdge("edge2", Edge2Tls.Port);
        AlphaR1 = NewKeyServer("alpha", "r1", _alphaKeys.Path);
        AlphaR2 = NewKeyServer("alpha", "r2", _alphaKeys.Path);
        BetaR1 = NewKeyServer("beta", "r1", _betaKeys.Path);
        await Task.WhenAll(Edge1.StartAsync(), Edge2.StartAsync());
        await Task.WhenAll(AlphaR1.StartAsync(), AlphaR2.StartAsync(), BetaR1.StartAsync());
        await AddTenantAsync("alpha", AlphaHost);
        await AddTenantAsync("beta", BetaHost);
        foreach (var replica in new[] { AlphaR1, AlphaR2, BetaR1 }) await replica.WaitForRegistrationAsync();
        foreach (var edge in new[] { Edge1Tls, Edge2Tls })
        foreach (var host in new[] { AlphaHost, BetaHost })
            await HandshakeLoad.UntilServedAsync(edge, host, TimeSpan.FromSeconds(60));
    }

    /// <summary>The operator adds (or changes) a tenant with the CLI, its origin the cluster's test origin.</summary>
    public async Task AddTenantAsync(string tenant, params string[] hosts)
    {
        var added = await KeylessProcess.RunToEndAsync(["tenant", "add", tenant, .. hosts.SelectMany(h => new[] { "--host", h }),
            "--origin", $"127.0.0.1:{Origin.Port}", "--clustering", "redis", "--redis", Redis]);
        if (added.ExitCode != 0) throw new InvalidOperationException($"tenant add {tenant} failed:\n{added.Output}");
    }

    public async Task RemoveTenantAsync(string tenant)
    {
        var removed = await KeylessProcess.RunToEndAsync("tenant", "remove", tenant, "--clustering", "redis", "--redis", Redis);
        if (removed.ExitCode == 3)
        {
            // "Cannot reach the cluster": a clean-up right after edges were SIGKILLed can find mostly dead gateways
            // still listed; the operator's answer is to run the command again, and so is ours (once).
            await Task.Delay(TimeSpan.FromSeconds(5));
            removed = await KeylessProcess.RunToEndAsync("tenant", "remove", tenant, "--clustering", "redis", "--redis", Redis);
        }
        if (removed.ExitCode != 0) throw new InvalidOperationException($"tenant remove {tenant} failed:\n{removed.Output}");
    }

    /// <summary>An edge process of this cluster (not started); a test that starts more parts than the fixture's stops them.</summary>
    public ClusterPart NewEdge(string id, int httpsPort)
    {
        // Fixed ports, so a restarted edge comes back where it was (as under a supervisor).
        var silo = KeylessProcess.FreePort();
        var gateway = KeylessProcess.FreePort();
        return new ClusterPart(id, "Edge listening for TLS", silo, () => KeylessProcess.Start(KeylessProcess.PlaintextMultiHost, "edge", "--shared-cluster", "--clustering", "redis", "--redis", Redis,
            "--advertise", "127.0.0.1", "--silo-port", $"{silo}", "--gateway-port", $"{gateway}", "--https-port", $"{httpsPort}", "--edge-id", id));
    }

    /// <summary>A key-server process of this cluster serving the keys in <paramref name="keyFolder"/> (not started).</summary>
    public ClusterPart NewKeyServer(string tenant, string replica, string keyFolder)
    {
        var silo = KeylessProcess.FreePort();
        // Each start its own audit log: a SIGKILL in the middle of a multi-page write leaves a torn last line, which a
        // restarted key server rightly refuses to continue (see AuditLogTests); the drills are about serving.
        return new ClusterPart($"{tenant}/{replica}", "PemKeyStore[1006] Loaded", silo, () => KeylessProcess.Start(KeylessProcess.PlaintextMultiHost, "keyserver", "--shared-cluster", "--tenant", tenant, "--replica", replica,
            "--keys", keyFolder, "--clustering", "redis", "--redis", Redis, "--advertise", "127.0.0.1", "--silo-port", $"{silo}",
            "--audit-log", Path.Combine(_files.Path, $"audit-{tenant}-{replica}-{Guid.NewGuid():N}.log")))
        {
            RegisteredLine = $"Replica {tenant}/{replica} registered",
        };
    }

    /// <summary>
    /// Polls the membership table in Redis until the silo on <paramref name="siloPort"/> is declared dead; the time
    /// from the call, or null if it did not happen within <paramref name="limit"/>.
    /// </summary>
    public Task<TimeSpan?> UntilDeclaredDeadAsync(int siloPort, TimeSpan limit) =>
        new RedisMembership(["redis-cli", "-p", $"{RedisPort}"]).UntilDeclaredDeadAsync($"127.0.0.1:{siloPort}", limit);

    /// <summary>Everything the parts printed, for a failing test's output.</summary>
    public string Logs(int lastLines = 40) => string.Join("\n", Parts.Select(p => $"--- {p.Name} (last {lastLines} lines) ---\n{p.Tail(lastLines)}"));

    public async Task DisposeAsync()
    {
        foreach (var part in Parts) await part.DisposeAsync(); // Redis last: silos leave the cluster while it is there
        await Origin.DisposeAsync();
        _alphaKeys.Dispose();
        _betaKeys.Dispose();
        _ca.Dispose();
        _files.Dispose();
    }
}
