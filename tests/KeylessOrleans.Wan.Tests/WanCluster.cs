using System.Net;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Load;
using KeylessOrleans.Wan.Tests.Link;
using KeylessOrleans.Wan.Tests.Network;

namespace KeylessOrleans.Wan.Tests;

/// <summary>
/// A multi-host deployment with a WAN in the middle (<see cref="WanTopology"/>). The edges' site runs Redis (with its
/// append-only file), one edge and the key server of tenant "beta" (hosted next to the edges); the tenant site runs
/// tenant "alpha"'s only key server, under a <see cref="Supervisor"/> as systemd runs it. Every byte between the
/// sites crosses <see cref="Proxy"/>, whose link the tests slow down, make lossy or cut; <see cref="PartitionAsync"/>
/// cuts the tenant site's network link instead. Clients handshake with the edge from inside the edges' namespace.
/// </summary>
public sealed class WanCluster : IAsyncLifetime
{
    public const string AlphaHost = "alpha.test";
    public const string BetaHost = "beta.test";

    /// <summary>The edge's Keyless:Edge:KeyCalls:Timeout (its default): a client of a cut-off tenant gets its alert by then.</summary>
    public static readonly TimeSpan KeyCallTimeout = TimeSpan.FromSeconds(2);

    // Every role has its own namespace, so fixed ports cannot collide with anything on the machine.
    private const int RedisPort = 6379;
    private const int EdgeSiloPort = 11111;
    private const int BetaSiloPort = 11112;
    private const int AlphaSiloPort = 11113;
    private const int GatewayPort = 30000;
    private const int HttpsPort = 8443;
    private const int PingPort = 7777;

    private readonly TempDirectory _files = new("keyless-wan");
    private readonly TestCertificateAuthority _ca = new();
    private TenantKeyFolder _alphaKeys = null!;
    private TenantKeyFolder _betaKeys = null!;

    public WanTopology Network { get; private set; } = null!;
    public TestOrigin Origin { get; private set; } = null!;
    public DelayProxy Proxy { get; private set; } = null!;
    public WanLink Link => Proxy.Link;
    public ClusterPart RedisServer { get; private set; } = null!;
    public ClusterPart Edge { get; private set; } = null!;
    public ClusterPart Beta { get; private set; } = null!;
    public ClusterPart Alpha { get; private set; } = null!;
    public Supervisor AlphaSupervisor { get; private set; } = null!;

    /// <summary>The edge's TLS listener, as seen from inside the edges' namespace.</summary>
    public IPEndPoint EdgeTls { get; } = new(IPAddress.Loopback, HttpsPort);

    public static string Redis => $"{WanTopology.EdgeSite}:{RedisPort}";

    /// <summary>Alpha's key server in the membership table (its advertised endpoint: the proxy).</summary>
    public static string AlphaSilo => $"{WanTopology.OnPremAdvertised}:{AlphaSiloPort}";

    public RedisMembership Membership => new([.. Network.Edges.Launcher, "redis-cli", "-h", WanTopology.EdgeSite.ToString(), "-p", $"{RedisPort}"]);

    /// <summary>
    /// Membership settings for silos that talk across a WAN (docs/wan.md, "Settings for on-prem silos across a WAN"):
    /// the same on every silo, since each silo probes with its own.
    /// </summary>
    public static IReadOnlyDictionary<string, string> WanMembership { get; } = new Dictionary<string, string>
    {
        ["KEYLESS__CLUSTER__PROBETIMEOUT"] = "00:00:02",
        ["KEYLESS__CLUSTER__MISSEDPROBESLIMIT"] = "3",
        // The drills are about membership over a WAN, not about the links' encryption: no cluster TLS here.
        ["KEYLESS__CLUSTER__ALLOWPLAINTEXTMULTIHOST"] = "true",
    };

    /// <summary>On-prem silos also re-read the membership table sooner: after a long partition that is how they learn they were voted out.</summary>
    public static IReadOnlyDictionary<string, string> KeyServerMembership { get; } = new Dictionary<string, string>(WanMembership)
    {
        ["KEYLESS__CLUSTER__MEMBERSHIPREFRESHINTERVAL"] = "00:00:05",
    };

    public async Task InitializeAsync()
    {
        _alphaKeys = new TenantKeyFolder(_ca, [AlphaHost]);
        _betaKeys = new TenantKeyFolder(_ca, [BetaHost]);
        Network = await WanTopology.CreateAsync();
        Origin = new TestOrigin(Network.Edges.NewSocket);
        Proxy = new DelayProxy(Network.Wan.NewSocket);
        // Tenant site -> edges' site: Redis and every silo there. Edges' site -> tenant site: alpha's key server.
        foreach (var port in new[] { RedisPort, EdgeSiloPort, BetaSiloPort })
            Proxy.Forward(new IPEndPoint(WanTopology.EdgeSite, port), new IPEndPoint(WanTopology.EdgeLan, port));
        Proxy.Forward(new IPEndPoint(WanTopology.OnPremAdvertised, AlphaSiloPort), new IPEndPoint(WanTopology.OnPremHost, AlphaSiloPort));
        Proxy.Forward(PingTarget, new IPEndPoint(WanTopology.OnPremHost, PingPort));

        var redisDir = Directory.CreateDirectory(Path.Combine(_files.Path, "redis")).FullName;
        RedisServer = new ClusterPart("redis", "Ready to accept connections", RedisPort, () => KeylessProcess.StartProgram(Network.Edges.Launcher[0],
            [.. Network.Edges.Launcher.Skip(1), "redis-server", "--port", $"{RedisPort}", "--bind", "0.0.0.0", "--protected-mode", "no",
                "--dir", redisDir, "--appendonly", "yes", "--save", ""], null));
        await RedisServer.StartAsync();

        Edge = new ClusterPart("edge", "Edge listening for TLS", EdgeSiloPort, () => KeylessProcess.StartUnder(Network.Edges.Launcher,
            new Dictionary<string, string>(WanMembership)
            {
                // Key calls in flight per tenant ≈ handshake rate × key-call latency; the throughput drill keeps up
                // to 96 handshakes in flight, all of them for one tenant.
                ["KEYLESS__EDGE__KEYCALLS__MAXPERTENANT"] = "128",
            },
            "edge", "--shared-cluster", "--clustering", "redis", "--redis", Redis, "--advertise", $"{WanTopology.EdgeSite}", "--silo-port", $"{EdgeSiloPort}",
            "--gateway-port", $"{GatewayPort}", "--https-port", $"{HttpsPort}", "--edge-id", "edge1"));
        await Edge.StartAsync();
        Beta = KeyServer("beta", _betaKeys, Network.Edges, BetaSiloPort, WanTopology.EdgeSite);
        Alpha = KeyServer("alpha", _alphaKeys, Network.OnPrem, AlphaSiloPort, WanTopology.OnPremAdvertised);
        await Task.WhenAll(Beta.StartAsync(), Alpha.StartAsync());
        foreach (var (tenant, host) in new[] { ("alpha", AlphaHost), ("beta", BetaHost) })
        {
            var added = await KeylessProcess.RunToEndUnderAsync(Network.Edges.Launcher, "tenant", "add", tenant, "--host", host,
                "--origin", $"127.0.0.1:{Origin.Port}", "--clustering", "redis", "--redis", Redis);
            if (added.ExitCode != 0) throw new InvalidOperationException($"tenant add {tenant} failed:\n{added.Output}");
        }
        await Task.WhenAll(Alpha.WaitForRegistrationAsync(), Beta.WaitForRegistrationAsync());
        AlphaSupervisor = new Supervisor(Alpha);
        foreach (var host in new[] { AlphaHost, BetaHost }) await UntilServedAsync(host, TimeSpan.FromSeconds(60));
    }

    private ClusterPart KeyServer(string tenant, TenantKeyFolder keys, NetworkNamespace site, int siloPort, IPAddress advertised) =>
        new($"{tenant}/r1", "Loaded 2 keys", siloPort, () => KeylessProcess.StartUnder(site.Launcher, KeyServerMembership,
            "keyserver", "--shared-cluster", "--tenant", tenant, "--replica", "r1", "--keys", keys.Path, "--clustering", "redis", "--redis", Redis,
            "--advertise", $"{advertised}", "--silo-port", $"{siloPort}",
            "--audit-log", Path.Combine(_files.Path, $"audit-{tenant}-{Guid.NewGuid():N}.log")))
        {
            RegisteredLine = $"Replica {tenant}/r1 registered",
        };

    /// <summary>A load of full TLS 1.3 handshakes against the edge, from inside the edges' site.</summary>
    public HandshakeLoad Load(TimeSpan maxDuration) => new(maxDuration) { NewSocket = Network.Edges.NewSocket };

    public Task<TimeSpan> UntilServedAsync(string host, TimeSpan limit) => HandshakeLoad.UntilServedAsync(EdgeTls, host, limit, Network.Edges.NewSocket);

    /// <summary>Where a <see cref="Ping"/> answers, seen from the edges' site: across the link like alpha's key server.</summary>
    public static IPEndPoint PingTarget { get; } = new(WanTopology.OnPremAdvertised, PingPort);

    /// <summary>An echo server in the tenant's site, for a <see cref="TcpPing"/> from the edges' site across the link.</summary>
    public TcpPing Ping() => new(Network.OnPrem.NewSocket, new IPEndPoint(WanTopology.OnPremHost, PingPort));

    public Task PartitionAsync() => Network.PartitionAsync();

    public Task HealAsync() => Network.HealAsync();

    /// <summary>Everything the parts printed, for a failing test's output.</summary>
    public string Logs(int lastLines = 40) =>
        string.Join("\n", new[] { Alpha, Beta, Edge }.Select(p => $"--- {p.Name} (last {lastLines} lines) ---\n{p.Tail(lastLines)}"));

    public async Task DisposeAsync()
    {
        if (AlphaSupervisor is not null) await AlphaSupervisor.DisposeAsync();
        // The link back first, so silos can leave the cluster properly; Redis last.
        if (Network is not null) await Network.HealAsync();
        Proxy?.Link.Set(new LinkSettings());
        foreach (var part in new[] { Alpha, Beta, Edge, RedisServer }.Where(p => p is not null)) await part.DisposeAsync();
        if (Proxy is not null) await Proxy.DisposeAsync();
        if (Origin is not null) await Origin.DisposeAsync();
        Network?.Dispose();
        _alphaKeys?.Dispose();
        _betaKeys?.Dispose();
        _ca.Dispose();
        _files.Dispose();
    }
}
