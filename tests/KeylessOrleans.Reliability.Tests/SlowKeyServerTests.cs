using System.Diagnostics;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Load;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace KeylessOrleans.Reliability.Tests;

/// <summary>
/// A key server that answers, but slowly (fault drill: every operation delayed 1.5 s): its tenant's calls fill
/// only its own bulkhead on the edge; other tenants keep their speed and the edge's threads stay within bounds.
/// In-process cluster, so the test can watch the edge's thread pool and bulkhead directly.
/// </summary>
public sealed class SlowKeyServerTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int PerTenantLimit = 4;
    // A third of the slow key server's delay: far beyond a scheduler stall, well within a wait for a thread it holds.
    private static readonly TimeSpan Stall = TimeSpan.FromMilliseconds(500);
    private readonly TestCertificateAuthority _ca = new();
    private readonly TestOrigin _origin = new();
    private readonly List<TenantKeyFolder> _keys = [];
    private KeylessTestCluster _cluster = null!;
    private System.Net.IPEndPoint _edge = null!;
    private readonly SiloPlan.Edge _edgePlan = new(HttpsPort: 0) { HandshakeThreads = 16, MaxKeyCallsPerTenant = PerTenantLimit };

    public async Task InitializeAsync()
    {
        TenantKeyFolder Keys(string host)
        {
            var folder = new TenantKeyFolder(_ca, [host]);
            _keys.Add(folder);
            return folder;
        }
        _cluster = await KeylessTestCluster.StartAsync(
            _edgePlan,
            new SiloPlan.OnPrem("alpha", "r1", Keys("alpha.test").Path),
            new SiloPlan.OnPrem("beta", "r1", Keys("beta.test").Path),
            new SiloPlan.OnPrem("gamma", "r1", Keys("gamma.test").Path) { DrillDelay = TimeSpan.FromSeconds(1.5) });
        foreach (var tenant in new[] { "alpha", "beta", "gamma" })
            _edge = await _cluster.ServeTenantAsync(new TenantSettings(tenant, [$"{tenant}.test"], new OriginEndpoint("127.0.0.1", _origin.Port)), $"{tenant}.test");
    }

    [Fact]
    public async Task A_slow_key_server_fills_only_its_own_bulkhead_and_other_tenants_keep_their_speed()
    {
        var services = _cluster.Services(_cluster.Silo(_edgePlan));
        var pool = services.GetRequiredService<HandshakeWorkerPool>();
        var bulkhead = services.GetRequiredService<TenantBulkhead>();
        await HandshakeLoad.UntilServedAsync(_edge, "gamma.test", TimeSpan.FromSeconds(30)); // activates gamma's key grain
        var (maxBusy, maxGammaInFlight) = (0, 0);
        // Handshake threads busy, summed per phase: 1 alpha next to beta, 2 alpha and beta next to the slow gamma.
        var (busySum, busySamples) = (new long[3], new long[3]);
        var phase = 0;
        using var stopWatching = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!stopWatching.IsCancellationRequested)
            {
                var busy = pool.Busy;
                maxBusy = Math.Max(maxBusy, busy);
                maxGammaInFlight = Math.Max(maxGammaInFlight, bulkhead.InFlight("gamma"));
                var now = Volatile.Read(ref phase);
                (busySum[now], busySamples[now]) = (busySum[now] + busy, busySamples[now] + 1);
                await Task.Delay(2);
            }
        });

        // Same shape of load twice: alpha next to a healthy neighbour (beta), then next to the slow one (gamma).
        // The neighbours' clients come at a steady pace, as real clients do, not as fast as the edge refuses them.
        // More of them than the edge has handshake threads: without the bulkhead the slow tenant would hold every
        // thread for its 1.5 s, and alpha's handshakes would wait that long for one.
        var neighbourClients = _edgePlan.HandshakeThreads + PerTenantLimit;
        var alphaClients = 2;
        var pace = TimeSpan.FromMilliseconds(50);
        await using var load = new HandshakeLoad(FaultDrill.Phase(60));
        load.Add("alpha", _edge, "alpha.test", alphaClients);
        load.Add("beta", _edge, "beta.test", neighbourClients, pace);
        await Task.Delay(FaultDrill.Phase(1));
        var healthyFrom = load.Now;
        Volatile.Write(ref phase, 1);
        await Task.Delay(FaultDrill.Phase(5));
        Volatile.Write(ref phase, 0);
        var betaLoad = load.Now;
        var gammaLoad = new HandshakeLoad(FaultDrill.Phase(60));
        await using (gammaLoad)
        {
            // gamma's load (same shape as beta's) joins; beta's goes on (there is no way to stop half a HandshakeLoad),
            // its samples after this point are simply not counted.
            gammaLoad.Add("gamma", _edge, "gamma.test", neighbourClients, pace);
            await Task.Delay(TimeSpan.FromSeconds(1));
            Volatile.Write(ref phase, 2);
            await Task.Delay(FaultDrill.Phase(6) - TimeSpan.FromSeconds(1));
            Volatile.Write(ref phase, 0);
        }
        var samples = await load.StopAsync();
        var gamma = gammaLoad.Samples;
        stopWatching.Cancel();
        await watcher;

        var alphaHealthy = samples.For("alpha").Between(healthyFrom, betaLoad).ToList();
        var alphaSlow = samples.For("alpha").Between(betaLoad + TimeSpan.FromSeconds(1), TimeSpan.MaxValue).ToList();
        output.WriteLine($"alpha next to a healthy tenant: {alphaHealthy.Summary()}");
        output.WriteLine($"alpha next to a slow tenant:    {alphaSlow.Summary()}");
        var stalled = alphaSlow.Where(s => s.Duration >= Stall).Aggregate(TimeSpan.Zero, (sum, s) => sum + s.Duration);
        output.WriteLine($"alpha p90 {alphaHealthy.DurationPercentileMs(90):0.0} ms → {alphaSlow.DurationPercentileMs(90):0.0} ms; " +
                         $"{stalled.TotalSeconds:0.0} s in handshakes of {Stall.TotalMilliseconds} ms or more");
        output.WriteLine($"gamma (1.5 s per key operation): {gamma.Summary()}; served {gamma.Count(s => s.Ok)}, shed {gamma.Count(s => !s.Ok)}");
        var (healthyBusy, slowBusy) = ((double)busySum[1] / Math.Max(1, busySamples[1]), (double)busySum[2] / Math.Max(1, busySamples[2]));
        output.WriteLine($"edge handshake threads busy on average: {healthyBusy:0.0} with alpha and beta, {slowBusy:0.0} with gamma added, " +
                         $"at most {maxBusy} of 16; gamma key calls in flight at most {maxGammaInFlight} (limit {PerTenantLimit})");

        Assert.True(maxGammaInFlight <= PerTenantLimit, $"gamma had {maxGammaInFlight} key calls in flight");
        // The slow tenant adds at most its limit of threads (each held 1.5 s) and the short steps of its other
        // clients' shed handshakes (about one thread, two on a busy machine). Without the bulkhead its clients would
        // hold all 16 all the time.
        Assert.True(slowBusy - healthyBusy <= PerTenantLimit + 2,
            $"gamma added {slowBusy - healthyBusy:0.0} busy handshake threads on average ({healthyBusy:0.0} → {slowBusy:0.0})");
        Assert.Contains(gamma, s => s.Ok); // slow, not dead: up to its limit it is still served
        Assert.All(gamma.Where(s => !s.Ok), s => Assert.True(s.Duration < TimeSpan.FromSeconds(1), $"a shed gamma client waited {s.Duration}"));
        Assert.Equal(0, alphaSlow.Count(s => !s.Ok));
        // alpha keeps its speed, judged on p90: the machine's other load moves the whole distribution by up to about
        // 2× between the two phases, and a p99 of a few hundred handshakes is their third-worst, which one scheduler
        // stall decides.
        var (before, during) = (alphaHealthy.DurationPercentileMs(90), alphaSlow.DurationPercentileMs(90));
        Assert.True(during <= 3 * before + 20, $"alpha p90 went from {before:0.0} ms to {during:0.0} ms next to the slow tenant");
        // A thread held by the slow tenant makes alpha wait up to its 1.5 s. alpha's clients handshake one after the
        // other, so a stalled client records few samples and no percentile shows it: count the time stalled instead.
        Assert.True(stalled < TimeSpan.FromSeconds(1), $"alpha's clients spent {stalled.TotalSeconds:0.0} s in handshakes of {Stall.TotalMilliseconds} ms or more");
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _origin.DisposeAsync();
        foreach (var folder in _keys) folder.Dispose();
        _ca.Dispose();
    }
}
