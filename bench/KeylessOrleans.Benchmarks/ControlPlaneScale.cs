using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Registry;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace KeylessOrleans.Benchmarks;

/// <summary>
/// The control plane at scale (docs/control-plane.md, "Measured"): edge silos clustering through a real Redis and
/// persisting the registry there, loaded with federated tenants (two key-server gateways, a key-server CA, ten host
/// names each) up to 1,000, 10,000 and 100,000 tenants. At each level: the time and the bytes a change costs (written
/// to Redis, sent to each edge), and the time until every edge routes by the change. At the end: a new edge's cold
/// start and the managed heap one edge spends per tenant it serves.
/// </summary>
/// <remarks>
/// In the federated shape the registry stores the operator's settings only; an edge fetches a tenant's certificate
/// chains from its key servers when it first serves one of its names. The key-server gateways here are loopback ports
/// nobody listens on and the edges have no identity certificate, so that fetch fails at once and a route has no keys:
/// the figures are the registry's and the route cache's, not a key server's.
/// </remarks>
internal static class ControlPlaneScale
{
    private const int NamesPerTenant = 10;

    /// <summary>Tenant changes in flight at once while loading.</summary>
    private const int LoadParallelism = 256;

    /// <summary>The Redis grain storage behind the metering one registered as <see cref="RegistryStorage.Name"/>.</summary>
    private const string RedisStorage = "keyless-registry-redis";

    /// <summary>Activations of a cluster whose registry grains have left memory (the feed, status, system grains).</summary>
    private const int QuietActivations = 1_000;

    private static readonly TimeSpan PropagationDeadline = TimeSpan.FromSeconds(30);

    public static async Task RunAsync(int tenants, int changes, int propagations, int served)
    {
        int[] levels = [.. new[] { 1_000, 10_000, 100_000 }.Where(l => l < tenants), tenants];
        using var work = new TempDirectory("keyless-bench-control-plane");
        await using var redis = await RedisServer.StartAsync(work.Path);
        var meter = new WriteMeter();
        var caPem = KeyServerCaPem();
        var edges = new List<IHost>();
        try
        {
            edges.Add(await StartEdgeAsync("edge-a", redis, meter));
            edges.Add(await StartEdgeAsync("edge-b", redis, meter));
            var services = edges[0].Services;
            var registry = services.GetRequiredService<IGrainFactory>().GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);
            var feed = services.GetRequiredService<IGrainFactory>().GetGrain<IRegistryFeedGrain>(IRegistryGrain.DefaultKey);
            var serializer = services.GetRequiredService<Serializer>();
            var routes = edges.Select(e => e.Services.GetRequiredService<RouteTable>()).ToList();

            Console.WriteLine($"# KeylessOrleans control plane at scale — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, redis-server {redis.Endpoint}");
            Console.WriteLine();
            Console.WriteLine($"{edges.Count} edge silos in this process, Redis clustering and Redis registry storage; federated tenants with {NamesPerTenant} host names, "
                + $"2 key-server gateways and a key-server CA ({caPem.Length} bytes of PEM) each. Registry feed poll: {new EdgeOptions().ControlPlane.RegistryPollInterval.TotalSeconds:0.#} s (the default).");
            Console.WriteLine();

            var results = new List<LevelResult>();
            var loaded = 0;
            var portCounter = 0;
            foreach (var level in levels)
            {
                var loadWatch = Stopwatch.StartNew();
                await Parallel.ForEachAsync(Enumerable.Range(loaded, level - loaded), new ParallelOptions { MaxDegreeOfParallelism = LoadParallelism },
                    async (i, _) => await registry.SetTenantAsync(Tenant(TenantName(i), caPem)));
                var loadRate = (level - loaded) / loadWatch.Elapsed.TotalSeconds;
                Console.WriteLine($"loaded {level:N0} tenants ({level * NamesPerTenant:N0} names): {level - loaded:N0} in {loadWatch.Elapsed.TotalSeconds:0.0} s, {loadRate:0} tenants/s");
                loaded = level;
                var random = new Random(level);

                // A change of an existing tenant: a new origin port.
                var (changeTimes, changeWrites, changeBytes, changeNet) = await MeasureChangesAsync(redis, meter, changes, async () =>
                {
                    var port = 1024 + Interlocked.Increment(ref portCounter) % 60_000;
                    await registry.SetTenantAsync(Tenant(TenantName(random.Next(level)), caPem, port));
                });
                // A new tenant (ten names claimed, one directory shard rewritten).
                var added = 0;
                var (addTimes, addWrites, addBytes, addNet) = await MeasureChangesAsync(redis, meter, changes, async () =>
                    await registry.SetTenantAsync(Tenant($"n{level}-{added++:D4}", caPem)));

                // What each edge receives: the feed's answer for one change, and the tenant's record when it serves it next.
                var probe = TenantName(random.Next(level));
                var before = (await feed.ReadAsync(FeedPosition.Start, 1)).Position; // a start-over answer: where the feed is now
                await registry.SetTenantAsync(Tenant(probe, caPem, 1024 + Interlocked.Increment(ref portCounter) % 60_000));
                var changeFeed = await feed.ReadAsync(before, RegistryChanges.MaxPerRead);
                await registry.SetTenantAsync(Tenant($"n{level}-probe", caPem));
                var addFeed = await feed.ReadAsync(changeFeed.Position, RegistryChanges.MaxPerRead);
                if (changeFeed.Changes.Count != 1 || addFeed.Changes.Count != 1) throw new InvalidOperationException("the feed holds changes the benchmark did not make");
                var record = await registry.GetTenantAsync(probe);

                var propagation = await MeasurePropagationAsync(registry, routes, caPem, random, level, propagations, () => 1024 + Interlocked.Increment(ref portCounter) % 60_000);

                var result = new LevelResult(level, loadRate,
                    changeTimes, (double)changeWrites / changes, (double)changeBytes / changes, (double)changeNet / changes,
                    addTimes, (double)addWrites / changes, (double)addBytes / changes, (double)addNet / changes,
                    serializer.SerializeToArray(changeFeed).Length, serializer.SerializeToArray(addFeed).Length, serializer.SerializeToArray(record).Length,
                    propagation, await redis.InfoAsync("memory", "used_memory"), await redis.KeysAsync());
                results.Add(result);
                Console.WriteLine($"  {result.Summary()}");
                var slowest = propagation.Select((t, k) => (Ms: t / (double)TimeSpan.TicksPerMillisecond, Change: k)).OrderByDescending(p => p.Ms).Take(5);
                Console.WriteLine($"  slowest propagations (ms, #change of {propagation.Length}): {string.Join(", ", slowest.Select(p => $"{p.Ms:0} #{p.Change}"))}; over 2 s: {propagation.Count(t => t > TimeSpan.FromSeconds(2).Ticks)}");
            }

            Console.WriteLine();
            PrintLevels(results, changes, propagations);

            // A new edge joins the cluster with the whole fleet loaded.
            var coldWatch = Stopwatch.StartNew();
            edges.Add(await StartEdgeAsync("edge-c", redis, meter));
            var started = coldWatch.Elapsed;
            var coldRoutes = edges[^1].Services.GetRequiredService<RouteTable>();
            var coldRandom = new Random(7);
            var target = $"h{coldRandom.Next(NamesPerTenant)}.{TenantName(coldRandom.Next(tenants))}.bench.test";
            var (firstRoute, firstLookup) = await ResolveAsync(coldRoutes, target, TimeSpan.FromMinutes(2));
            var routed = coldWatch.Elapsed;
            while (!coldRoutes.IsLoaded && coldWatch.Elapsed < TimeSpan.FromMinutes(2)) await Task.Delay(10);
            var followed = coldWatch.Elapsed;

            // What the new edge's heap grows by per tenant it serves (the process hosts every edge: measured around
            // this edge's lookups alone, while nothing else changes).
            // The registry's grains leave memory a while after their last change; measured after they have, so their
            // collection does not fall inside the measurement.
            var management = edges[0].Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
            var settle = Stopwatch.StartNew();
            int activations;
            while ((activations = await management.GetTotalActivationCount()) > QuietActivations && settle.Elapsed < TimeSpan.FromMinutes(6)) await Task.Delay(2000);
            Console.WriteLine($"({activations:N0} activations left after {settle.Elapsed.TotalSeconds:0} s; heap measured now)");
            var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
            var picks = Enumerable.Range(0, tenants).OrderBy(_ => coldRandom.Next()).Take(served).ToList();
            var lookups = new long[picks.Count];
            var sheds = coldRoutes.ShedLookups;
            for (var k = 0; k < picks.Count; k++)
                lookups[k] = (await ResolveAsync(coldRoutes, $"h{coldRandom.Next(NamesPerTenant)}.{TenantName(picks[k])}.bench.test", TimeSpan.FromSeconds(30))).Elapsed.Ticks;
            var heapAfter = GC.GetTotalMemory(forceFullCollection: true);

            // The route cache alone: a route table over the same storage reader, without chain admission (whose
            // per-tenant state is the key-server client and chain follower's), on as many other tenants.
            var bare = new RouteTable(edges[^1].Services.GetRequiredService<RegistryReader>(), TimeProvider.System);
            var others = Enumerable.Range(0, tenants).Except(picks).OrderBy(_ => coldRandom.Next()).Take(served).ToList();
            var bareBefore = GC.GetTotalMemory(forceFullCollection: true);
            foreach (var i in others) await ResolveAsync(bare, $"h{coldRandom.Next(NamesPerTenant)}.{TenantName(i)}.bench.test", TimeSpan.FromSeconds(30));
            var bareAfter = GC.GetTotalMemory(forceFullCollection: true);
            GC.KeepAlive(bare);

            Console.WriteLine("## A new edge, and what an edge holds");
            Console.WriteLine();
            Console.WriteLine("| measure | value |");
            Console.WriteLine("|---|---|");
            Console.WriteLine($"| new edge silo started (joined through Redis membership) | {started.TotalSeconds:0.00} s |");
            Console.WriteLine($"| start → its route table resolves a random tenant's name (of {tenants:N0}) | {routed.TotalSeconds:0.00} s |");
            Console.WriteLine($"| its first lookup (name + tenant read from Redis, chain fetch attempted) | {firstLookup.TotalMilliseconds:0.0} ms |");
            Console.WriteLine($"| start → it has read the change feed | {followed.TotalSeconds:0.00} s |");
            Console.WriteLine($"| lookups of {picks.Count:N0} distinct tenants' names on that edge, p50 / p99 | {Ms(lookups, 0.5):0.00} / {Ms(lookups, 0.99):0.00} ms |");
            Console.WriteLine($"| lookups refused by the edge's lookup rate limit (retried) | {coldRoutes.ShedLookups - sheds:N0} |");
            Console.WriteLine($"| managed heap before / after those lookups | {heapBefore / 1048576.0:0.0} / {heapAfter / 1048576.0:0.0} MB |");
            Console.WriteLine($"| managed heap per served tenant | {(heapAfter - heapBefore) / (double)picks.Count:N0} bytes ({coldRoutes.CachedTenants:N0} tenants, {coldRoutes.CachedNames:N0} names cached) |");
            Console.WriteLine($"| of which the route cache alone (a RouteTable without chain admission, {others.Count:N0} other tenants) | {(bareAfter - bareBefore) / (double)others.Count:N0} bytes per tenant |");
            Console.WriteLine($"| bench process managed heap (3 edges and their grain activations) | {heapAfter / 1048576.0:0} MB |");
            Console.WriteLine();
            Console.WriteLine(firstRoute.Keys.Keys.Count == 0
                ? "Routes carry no keys here: federated tenants' chains come from their key servers on first serve, and none listens in this benchmark."
                : "Routes carry keys.");
        }
        finally
        {
            for (var i = edges.Count - 1; i >= 0; i--)
            {
                await edges[i].StopAsync();
                edges[i].Dispose();
            }
        }
    }

    private static string TenantName(int i) => $"t{i:D6}";

    private static TenantSettings Tenant(string name, string caPem, int port = 8080) => new(
        name,
        [.. Enumerable.Range(0, NamesPerTenant).Select(j => $"h{j}.{name}.bench.test")],
        new OriginEndpoint("127.0.0.1", port),
        KeyServers: [new KeyServerEndpoint("r1", "127.0.0.1:30101"), new KeyServerEndpoint("r2", "127.0.0.1:30102")],
        KeyServerCa: caPem);

    /// <summary>One real CA certificate (ECDSA P-256, as a tenant's key-server CA would be), shared by every tenant.</summary>
    private static string KeyServerCaPem()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Bench tenant key-server CA, O=Bench tenant", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));
        return certificate.ExportCertificatePem();
    }

    /// <summary>Runs <paramref name="change"/> one after another; its times and what it wrote (records, bytes, Redis input).</summary>
    private static async Task<(long[] Times, long Writes, long Bytes, long RedisInput)> MeasureChangesAsync(RedisServer redis, WriteMeter meter, int count, Func<Task> change)
    {
        var times = new long[count];
        var (writes, bytes) = (meter.Writes, meter.Bytes);
        var input = await redis.InfoAsync("stats", "total_net_input_bytes");
        for (var k = 0; k < count; k++)
        {
            var watch = Stopwatch.StartNew();
            await change();
            times[k] = watch.Elapsed.Ticks;
        }
        var inputAfter = await redis.InfoAsync("stats", "total_net_input_bytes");
        return (times, meter.Writes - writes, meter.Bytes - bytes, inputAfter - input);
    }

    /// <summary>
    /// Changes tenants every edge has served and times each from SetTenantAsync's answer until every edge's route
    /// table routes by it (polled every millisecond). A change not seen within the deadline counts as the deadline.
    /// </summary>
    private static async Task<long[]> MeasurePropagationAsync(IRegistryGrain registry, List<RouteTable> routes, string caPem, Random random, int level, int count, Func<int> nextPort)
    {
        var picks = Enumerable.Range(0, level).OrderBy(_ => random.Next()).Take(count).Select(TenantName).ToList();
        foreach (var table in routes)
            foreach (var tenant in picks)
                await ResolveAsync(table, $"h0.{tenant}.bench.test", TimeSpan.FromSeconds(30));

        var times = new long[picks.Count];
        for (var k = 0; k < picks.Count; k++)
        {
            var host = $"h0.{picks[k]}.bench.test";
            var port = nextPort();
            // At a random point of the edges' poll interval: changes made right after the last one was seen would
            // all land just after a poll and each wait a whole interval.
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1000)));
            await registry.SetTenantAsync(Tenant(picks[k], caPem, port));
            var watch = Stopwatch.StartNew();
            var seen = new bool[routes.Count];
            while (seen.Contains(false) && watch.Elapsed < PropagationDeadline)
            {
                for (var e = 0; e < routes.Count; e++)
                {
                    try
                    {
                        seen[e] = seen[e] || routes[e].Resolve(host)?.Tenant.Origin.Port == port;
                    }
                    catch (RegistryUnavailableException)
                    {
                        // Not seen yet; polled again.
                    }
                }
                if (seen.Contains(false)) await Task.Delay(1);
            }
            times[k] = watch.Elapsed.Ticks;
        }
        return times;
    }

    /// <summary>Resolves a name until it routes (a lookup over the edge's rate limit answers null); the successful lookup's time.</summary>
    private static async Task<(EdgeRoute Route, TimeSpan Elapsed)> ResolveAsync(RouteTable routes, string host, TimeSpan deadline)
    {
        var total = Stopwatch.StartNew();
        while (true)
        {
            var watch = Stopwatch.StartNew();
            try
            {
                if (routes.Resolve(host) is { } route) return (route, watch.Elapsed);
            }
            catch (RegistryUnavailableException)
            {
                // Over the edge's lookup limit (counted as shed) or a failed read: asked again below.
            }
            if (total.Elapsed > deadline) throw new TimeoutException($"{host} did not route within {deadline.TotalSeconds:0} s");
            await Task.Delay(5);
        }
    }

    /// <summary>An edge silo in this process: Redis membership, the registry in Redis behind a meter, no HTTPS listener.</summary>
    private static async Task<IHost> StartEdgeAsync(string id, RedisServer redis, WriteMeter meter)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Error);
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = "keyless-bench";
                o.ServiceId = "keyless-bench";
            });
            silo.ConfigureEndpoints(IPAddress.Loopback, KeylessProcess.FreePort(), 0);
            silo.UseRedisClustering(o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis.Endpoint));
            silo.AddRedisGrainStorage(RedisStorage, o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis.Endpoint));
            silo.Services.AddKeyedSingleton<IGrainStorage>(RegistryStorage.Name, (services, _) => new MeteredGrainStorage(
                services.GetRequiredKeyedService<IGrainStorage>(RedisStorage), services.GetRequiredService<IGrainStorageSerializer>(), meter));
            silo.AddKeylessEdge(o =>
            {
                o.EdgeId = id;
                o.Listener.HttpsPort = null;
            });
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static double Ms(long[] ticks, double q) => TimingStatistics.Percentile(ticks, q) / TimeSpan.TicksPerMillisecond;

    private static void PrintLevels(List<LevelResult> results, int changes, int propagations)
    {
        Console.WriteLine($"## Per change ({changes} changes of each kind, one after another; {propagations} for propagation)");
        Console.WriteLine();
        Console.WriteLine("| tenants | load rate | change: p50 / p99 ms | change: records, bytes written | change: Redis input bytes | add: p50 / p99 ms | add: records, bytes written | add: Redis input bytes | feed bytes per edge, change / add | tenant record per edge (Orleans) | propagation to all edges p50 / p99 / max | Redis used_memory | Redis keys |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
            Console.WriteLine($"| {r.Tenants:N0} | {r.LoadRate:0}/s | {Ms(r.ChangeTimes, 0.5):0.00} / {Ms(r.ChangeTimes, 0.99):0.00} | {r.ChangeWrites:0.#}, {r.ChangeBytes:0} | {r.ChangeRedisInput:0} | {Ms(r.AddTimes, 0.5):0.00} / {Ms(r.AddTimes, 0.99):0.00} | {r.AddWrites:0.#}, {r.AddBytes:0} | {r.AddRedisInput:0} | {r.FeedChangeBytes} / {r.FeedAddBytes} | {r.RecordBytes} | {Ms(r.Propagation, 0.5):0} / {Ms(r.Propagation, 0.99):0} / {Ms(r.Propagation, 1):0} ms | {r.RedisUsedMemory / 1048576.0:0.0} MB | {r.RedisKeys:N0} |");
        Console.WriteLine();
        if (results.Count < 2) return;
        var (small, large) = (results[0], results[^1]);
        Console.WriteLine($"## {large.Tenants:N0} tenants ÷ {small.Tenants:N0} (target ≤ 2×)");
        Console.WriteLine();
        Console.WriteLine("| measure | ratio |");
        Console.WriteLine("|---|---|");
        Console.WriteLine($"| change time p50 / p99 | {Ms(large.ChangeTimes, 0.5) / Ms(small.ChangeTimes, 0.5):0.00} / {Ms(large.ChangeTimes, 0.99) / Ms(small.ChangeTimes, 0.99):0.00} |");
        Console.WriteLine($"| add time p50 / p99 | {Ms(large.AddTimes, 0.5) / Ms(small.AddTimes, 0.5):0.00} / {Ms(large.AddTimes, 0.99) / Ms(small.AddTimes, 0.99):0.00} |");
        Console.WriteLine($"| change bytes written / Redis input | {large.ChangeBytes / small.ChangeBytes:0.00} / {large.ChangeRedisInput / small.ChangeRedisInput:0.00} |");
        Console.WriteLine($"| add bytes written / Redis input | {large.AddBytes / small.AddBytes:0.00} / {large.AddRedisInput / small.AddRedisInput:0.00} |");
        Console.WriteLine($"| feed bytes per edge, change / add | {(double)large.FeedChangeBytes / small.FeedChangeBytes:0.00} / {(double)large.FeedAddBytes / small.FeedAddBytes:0.00} |");
        Console.WriteLine($"| tenant record per edge | {(double)large.RecordBytes / small.RecordBytes:0.00} |");
        Console.WriteLine($"| propagation p99 | {Ms(large.Propagation, 0.99) / Ms(small.Propagation, 0.99):0.00} |");
        Console.WriteLine();
    }

    private sealed record LevelResult(
        int Tenants, double LoadRate,
        long[] ChangeTimes, double ChangeWrites, double ChangeBytes, double ChangeRedisInput,
        long[] AddTimes, double AddWrites, double AddBytes, double AddRedisInput,
        int FeedChangeBytes, int FeedAddBytes, int RecordBytes,
        long[] Propagation, long RedisUsedMemory, long RedisKeys)
    {
        public string Summary() =>
            $"change {Ms(ChangeTimes, 0.5):0.00}/{Ms(ChangeTimes, 0.99):0.00} ms, {ChangeBytes:0} B written; add {Ms(AddTimes, 0.5):0.00}/{Ms(AddTimes, 0.99):0.00} ms, {AddBytes:0} B; "
            + $"feed {FeedChangeBytes}/{FeedAddBytes} B; propagation p99 {Ms(Propagation, 0.99):0} ms; Redis {RedisUsedMemory / 1048576.0:0.0} MB";
    }
}
