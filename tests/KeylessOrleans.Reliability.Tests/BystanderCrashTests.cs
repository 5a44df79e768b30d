using System.Diagnostics;
using System.Security.Cryptography;
using KeylessOrleans.TestSupport;
using KeylessOrleans.TestSupport.Load;
using Xunit.Abstractions;

namespace KeylessOrleans.Reliability.Tests;

/// <summary>
/// Silos that take no part in a handshake crash: the handshake must not notice, even in the seconds before
/// membership declares them dead (while the rest of the cluster still counts them as members).
/// </summary>
[Collection(nameof(FaultClusterCollection))]
public sealed class BystanderCrashTests(FaultCluster cluster, ITestOutputHelper output)
{
    private const int GammaHosts = 64;

    [Fact]
    public async Task First_handshakes_of_a_new_tenant_succeed_while_crashed_bystander_edges_are_not_yet_declared_dead()
    {
        using var ca = new TestCertificateAuthority();
        var hosts = Enumerable.Range(0, GammaHosts).Select(i => $"gamma{i}.test").ToArray();
        // One key per host name, so each host's first handshake is the first call to its own key grain: a grain
        // the edge has never placed, like any grain whose cached address was dropped. With Orleans' default directory
        // each such placement asked the silo owning the grain id's hash, dead ones included; 64 grains make it near
        // certain that some hash to the crashed edges' ranges.
        using var keys = new TenantKeyFolder(ca, [hosts[0]]);
        var publicKeys = new List<IDisposable>();
        for (var i = 1; i < GammaHosts; i++)
        {
            var (key, publicKey) = TestKeys.Ecdsa(ECCurve.NamedCurves.nistP256, TestKeys.Format.Sec1);
            publicKeys.Add(publicKey);
            keys.Add($"ecdsa-{i}.pem", key, ca, LeafExtras.None, hosts[i]);
        }
        await using var gamma = cluster.NewKeyServer("gamma", "r1", keys.Path);
        var bystanders = Enumerable.Range(1, 3).Select(i => cluster.NewEdge($"bystander{i}", KeylessProcess.FreePort())).ToList();
        try
        {
            await Task.WhenAll([gamma.StartAsync(), .. bystanders.Select(b => b.StartAsync())]);
            await cluster.AddTenantAsync("gamma", hosts);
            await gamma.WaitForRegistrationAsync();

            foreach (var bystander in bystanders) await bystander.CrashAsync();
            var clock = Stopwatch.StartNew();
            // 16 at a time: within the edge's per-tenant bulkhead (MaxKeyCallsPerTenant, 32), which would shed the rest.
            var errors = new string?[hosts.Length];
            await Parallel.ForEachAsync(Enumerable.Range(0, hosts.Length), new ParallelOptions { MaxDegreeOfParallelism = 16 },
                async (i, _) => errors[i] = await HandshakeLoad.TryHandshakeAsync(cluster.Edge2Tls, hosts[i]));
            var elapsed = clock.Elapsed;
            var declared = await Task.WhenAll(bystanders.Select(b => new RedisMembership(["redis-cli", "-p", $"{cluster.RedisPort}"]).StatusAsync($"127.0.0.1:{b.Port}")));

            output.WriteLine($"{hosts.Length} first handshakes {elapsed.TotalMilliseconds:0} ms after SIGKILL of {bystanders.Count} edges; their membership status then: {string.Join(", ", declared)}");
            Assert.True(declared.All(status => status != RedisMembership.Dead),
                $"a bystander was already declared dead {elapsed} after the crash: too slow to judge");
            Assert.All(hosts.Zip(errors), pair => Assert.True(pair.Second is null, $"{pair.First}: {pair.Second}\n{cluster.Logs()}"));
        }
        finally
        {
            foreach (var bystander in bystanders) await bystander.DisposeAsync();
            await cluster.RemoveTenantAsync("gamma");
            foreach (var key in publicKeys) key.Dispose();
        }
    }
}
