using KeylessOrleans.Cluster;
using KeylessOrleans.Cluster.Hosting;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.KeyServer.Hosting;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.TestingHost;

namespace KeylessOrleans.TestSupport;

/// <summary>What one silo of a test cluster is: an edge, or a tenant's on-prem key server.</summary>
public abstract record SiloPlan
{
    /// <param name="HttpsPort">The TLS listener's port: null for none, 0 for any free port.</param>
    public sealed record Edge(int? HttpsPort = null) : SiloPlan
    {
        public TimeSpan KeyCallTimeout { get; init; } = TimeSpan.FromSeconds(2);

        public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

        public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(120);

        public string? DefaultHostName { get; init; }

        public int HandshakeThreads { get; init; } = 16;

        public int MaxKeyCallsPerTenant { get; init; } = 8;

        /// <summary>The edge's cluster identity (certificate + key PEM files) for signing key requests; null: unsigned.</summary>
        public (string Certificate, string Key)? Identity { get; init; }

        public int MaxConnectionsPerClientAddress { get; init; } = 256;

        /// <summary>The edge's warm-up before ready (Keyless:Edge:WarmUp): off here unless a test is about it.</summary>
        public bool WarmUp { get; init; }

        /// <summary>Where OCSP responders may be reached besides public addresses: the tests' responders run on loopback.</summary>
        public IReadOnlyList<string> OcspResponderPrivateNetworks { get; init; } = ["127.0.0.0/8"];

        /// <summary>
        /// The registry's storage: null keeps it in memory (in grains on the cluster's own silos); a folder keeps it in
        /// files there, as a single-machine edge does, so it outlives the cluster.
        /// </summary>
        public string? RegistryDirectory { get; init; }
    }

    public sealed record OnPrem(string Tenant, string Replica, string KeyDirectory) : SiloPlan
    {
        /// <summary>Keys in a PKCS#11 token (RFC 7512 URIs); their chains are in <see cref="KeyDirectory"/>.</summary>
        public IReadOnlyList<string> Pkcs11Keys { get; init; } = [];

        /// <summary>A slow key server (fault drill): every key operation waits this long first.</summary>
        public TimeSpan DrillDelay { get; init; } = TimeSpan.Zero;

        /// <summary>The tenant's access policy (edge CA, allowed edges, rates); default: the product's defaults.</summary>
        public KeylessOrleans.KeyServer.Access.KeyAccessOptions Access { get; init; } = new();
        /// <summary>
        /// The silo's audit log file; by default one per silo in a folder the cluster deletes, so silos of one
        /// process (and a restarted silo, while its killed predecessor still holds its lock) never share a chain.
        /// </summary>
        public string? AuditLogPath { get; init; }

        /// <summary>False runs the silo without an audit log (a baseline for comparisons).</summary>
        public bool AuditLogEnabled { get; init; } = true;

        /// <summary>A hostile key server: every signature and delegated credential it returns has its last byte flipped.</summary>
        public bool TamperWithAnswers { get; init; }

        /// <summary>Services registered before the key server's own, which then stay (e.g. a faulty <c>IKeyStore</c>).</summary>
        public Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? Services { get; init; }

        /// <summary>The key server's settings for this plan; the audit log goes to <paramref name="defaultAuditLog"/> unless the plan names one.</summary>
        public void Apply(KeyServerOptions o, string defaultAuditLog)
        {
            o.Tenant = Tenant;
            o.Replica = Replica;
            o.KeyDirectory = KeyDirectory;
            o.Pkcs11Keys = [.. Pkcs11Keys];
            o.DrillDelay = DrillDelay;
            o.Access = Access;
            o.AuditLog.Enabled = AuditLogEnabled;
            o.AuditLog.Path = AuditLogPath ?? defaultAuditLog;
        }
    }
}

/// <summary>
/// An in-memory Orleans cluster (Microsoft.Orleans.TestingHost) whose silos are configured exactly as the
/// product configures them (<c>AddKeylessEdge</c> / <c>AddKeylessKeyServer</c>), with every grain call recorded
/// for the custody checks.
/// </summary>
public sealed class KeylessTestCluster : IAsyncDisposable
{
    private readonly Dictionary<string, SiloPlan> _plans = [];
    private readonly TempDirectory _auditLogs = new("keyless-audit");

    private KeylessTestCluster(InProcessTestCluster cluster) => Cluster = cluster;

    public InProcessTestCluster Cluster { get; }

    public GrainCallRecorder Calls { get; } = new();

    /// <summary>What the edges wrote to and read from the registry's storage.</summary>
    public StorageMeter RegistryStorage { get; } = new();

    /// <summary>The plan for the next silo started with <see cref="StartSiloAsync"/>.</summary>
    private SiloPlan? _nextPlan;

    public static async Task<KeylessTestCluster> StartAsync(params SiloPlan[] plans)
    {
        KeylessTestCluster? result = null;
        var builder = new InProcessTestClusterBuilder((short)plans.Length);
        builder.Options.ConfigureFileLogging = false;
        // Only the first silo (an edge) is a gateway, as in production: clients never enter through a tenant's silo.
        builder.Options.GatewayPerSilo = false;
        builder.ConfigureSilo((options, silo) => result!.Configure(options.SiloName, silo));
        result = new KeylessTestCluster(builder.Build());
        for (var i = 0; i < plans.Length; i++) result._plans[$"Silo_{i}"] = plans[i];
        try
        {
            await result.Cluster.DeployAsync();
            await result.WaitForMetadataAsync();
            return result;
        }
        catch
        {
            await result.DisposeAsync(); // a cluster that did not start still holds silos and a temp folder
            throw;
        }
    }

    /// <summary>The storage behind the registry's metered one.</summary>
    private const string MeteredStorage = "keyless-registry-metered";

    private void Configure(string siloName, ISiloBuilder silo)
    {
        if (!_plans.TryGetValue(siloName, out var plan))
        {
            plan = _nextPlan ?? throw new InvalidOperationException($"No plan for {siloName}");
            _plans[siloName] = plan;
        }
        silo.Services.AddSingleton(Calls);
        silo.AddIncomingGrainCallFilter<RecordingGrainCallFilter>();
        switch (plan)
        {
            case SiloPlan.Edge edge:
                if (edge.RegistryDirectory is { } registryDirectory)
                    silo.AddFileGrainStorage(MeteredStorage, o => o.Directory = registryDirectory);
                else
                    silo.AddMemoryGrainStorage(MeteredStorage);
                silo.Services.AddKeyedSingleton<Orleans.Storage.IGrainStorage>(KeylessOrleans.Cluster.Registry.RegistryStorage.Name, (services, _) =>
                    new MeteredGrainStorage(services.GetRequiredKeyedService<Orleans.Storage.IGrainStorage>(MeteredStorage),
                        services.GetRequiredService<Orleans.Storage.IGrainStorageSerializer>(), RegistryStorage));
                silo.AddKeylessEdge(o =>
                {
                    o.EdgeId = siloName.ToLowerInvariant();
                    o.SharedCluster = true; // this cluster's key servers are members (single-organization mode)
                    o.Listener.HttpsPort = edge.HttpsPort;
                    o.KeyCalls.Timeout = edge.KeyCallTimeout;
                    o.Limits.HandshakeTimeout = edge.HandshakeTimeout;
                    o.Limits.IdleTimeout = edge.IdleTimeout;
                    o.Tls.DefaultHostName = edge.DefaultHostName;
                    o.Limits.MaxConnectionsPerClientAddress = edge.MaxConnectionsPerClientAddress;
                    o.WarmUp.Enabled = edge.WarmUp;
                    o.ControlPlane.RegistryPollInterval = TimeSpan.FromMilliseconds(200);
                    o.ControlPlane.ChainPollInterval = TimeSpan.FromMilliseconds(200);
                    o.Limits.HandshakeThreads = edge.HandshakeThreads;
                    o.KeyCalls.MaxPerTenant = edge.MaxKeyCallsPerTenant;
                    o.IdentityCertificate = edge.Identity?.Certificate;
                    o.IdentityKey = edge.Identity?.Key;
                    o.Stapling.ResponderPrivateNetworks = [.. edge.OcspResponderPrivateNetworks];
                });
                break;
            case SiloPlan.OnPrem onPrem:
                if (onPrem.TamperWithAnswers) silo.AddIncomingGrainCallFilter<TamperingGrainCallFilter>();
                onPrem.Services?.Invoke(silo.Services);
                silo.AddKeylessKeyServer(o =>
                {
                    onPrem.Apply(o, Path.Combine(_auditLogs.Path, $"{siloName}.log"));
                    o.SharedCluster = true; // edges and key servers in one cluster: single-organization mode
                    o.RegistrationRetryDelay = TimeSpan.FromMilliseconds(200);
                });
                break;
        }
    }

    /// <summary>The silo started for this very plan (by reference: two plans may be equal records).</summary>
    public InProcessSiloHandle Silo(SiloPlan plan) =>
        Cluster.Silos.Single(s => _plans.TryGetValue(s.Name, out var p) && ReferenceEquals(p, plan));

    /// <summary>Grain calls as an edge silo makes them (tests call from inside the cluster, like handshakes do).</summary>
    public IGrainFactory Grains =>
        Services(Cluster.Silos.First(s => _plans[s.Name] is SiloPlan.Edge)).GetRequiredService<IGrainFactory>();

    public IServiceProvider Services(InProcessSiloHandle silo) => Cluster.GetSiloServiceProvider(silo.SiloAddress);

    public async Task<InProcessSiloHandle> StartSiloAsync(SiloPlan plan)
    {
        _nextPlan = plan;
        var handle = await Cluster.StartAdditionalSiloAsync();
        _plans[handle.Name] = plan;
        await WaitForMetadataAsync();
        return handle;
    }

    /// <summary>
    /// Placement reads silo metadata from a cache each silo fills asynchronously; wait until every silo knows
    /// every other silo's role, as a real edge does before it reports ready.
    /// </summary>
    private async Task WaitForMetadataAsync()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!Cluster.Silos.All(silo => Cluster.Silos.All(other =>
                   Services(silo).GetRequiredService<ISiloMetadataCache>().GetSiloMetadata(other.SiloAddress).Metadata.ContainsKey(SiloMetadataKeys.Role))))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("silo metadata did not propagate");
            await Task.Delay(50);
        }

        // A silo learns which silos implement which interfaces from the cluster manifest, which follows membership.
        var hostsKeyGrains = _plans.Values.Any(p => p is SiloPlan.OnPrem); // else tenants' key servers are clusters of their own
        while ((hostsKeyGrains && !Knows<IKeyGrain>()) || !Knows<IRegistryGrain>())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("the client never learned the grain types");
            await Task.Delay(50);
        }
    }

    private bool Knows<TGrain>() where TGrain : IGrainWithStringKey
    {
        try
        {
            Grains.GetGrain<TGrain>("probe");
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// The operator adds <paramref name="tenant"/>; waits until the first edge routes <paramref name="host"/> with at
    /// least <paramref name="keys"/> registered keys, and returns that edge's TLS endpoint.
    /// </summary>
    public async Task<System.Net.IPEndPoint> ServeTenantAsync(TenantSettings tenant, string host, int keys = 1)
    {
        await Grains.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey).SetTenantAsync(tenant);
        var edge = Services(Cluster.Silos.First(s => _plans[s.Name] is SiloPlan.Edge));
        var routes = edge.GetRequiredService<KeylessOrleans.Edge.Routing.RouteTable>();
        if (!await Poll.UntilAsync(() => Task.FromResult(routes.Resolve(host)?.Keys.Keys.Count >= keys), TimeSpan.FromSeconds(30)))
            throw new TimeoutException($"{host} never had {keys} routable keys");
        return await edge.GetRequiredService<KeylessOrleans.Edge.Tls.EdgeListener>().BoundEndPoint;
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        _auditLogs.Dispose();
    }
}

/// <summary>
/// What a hostile key server does to its answers: signatures and credentials come back with the last byte flipped.
/// It proves possession honestly (it does hold the key), so edges admit its chains; a master secret is left alone (no edge
/// can check one, and a wrong one only fails the handshake at Finished).
/// </summary>
public sealed class TamperingGrainCallFilter : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        await context.Invoke();
        if (context.Result is KeyOperationResult { IsOk: true, Output: { Length: > 0 } output } result
            && context.Request.GetArgumentCount() > 0 && context.Request.GetArgument(0) is not (DeriveMasterSecretRequest or ProvePossessionRequest))
            context.Result = result with { Output = [.. output[..^1], (byte)(output[^1] ^ 1)] };
    }
}
