using System.Diagnostics;
using System.Security.Cryptography;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>Stopping a tenant's only silo: its handshakes fail fast with "unavailable", other tenants go on, and a new silo serves again.</summary>
public sealed class TenantSiloOutageTests : IAsyncLifetime
{
    private readonly TestCertificateAuthority _ca = new();
    private TenantKeyFolder _acme = null!, _globex = null!;
    private KeylessTestCluster _cluster = null!;
    private readonly SiloPlan _edge = new SiloPlan.Edge();
    private SiloPlan.OnPrem _acmePlan = null!, _globexPlan = null!;

    public async Task InitializeAsync()
    {
        _acme = new TenantKeyFolder(_ca, ["www.acme.test"]);
        _globex = new TenantKeyFolder(_ca, ["globex.test"]);
        _acmePlan = new SiloPlan.OnPrem("acme", "primary", _acme.Path);
        _globexPlan = new SiloPlan.OnPrem("globex", "primary", _globex.Path);
        _cluster = await KeylessTestCluster.StartAsync(_edge, _acmePlan, _globexPlan);
    }

    private KeyServerClient Client => _cluster.Services(_cluster.Silo(_edge)).GetRequiredService<KeyServerClient>();

    private Task<KeyOperationResult> SignAsync(string tenant, string keyId) =>
        Client.PerformAsync("primary", new SignCertificateVerifyRequest(
            Client.Context(tenant, keyId, tenant == "acme" ? "www.acme.test" : "globex.test", null), SignatureScheme.EcdsaSecp256r1Sha256,
            CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32))));

    private async Task<KeyOperationResult> SignUntilOkAsync(TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        KeyOperationResult result;
        do
        {
            result = await SignAsync("acme", _acme.EcdsaKeyId);
        } while (!result.IsOk && clock.Elapsed < limit);
        return result;
    }

    [Fact]
    public async Task Stopped_tenant_silo_gives_unavailable_within_the_deadline_and_a_new_silo_serves_again()
    {
        Assert.Equal(KeyOperationStatus.Ok, (await SignUntilOkAsync(TimeSpan.FromSeconds(10))).Status);

        await _cluster.Cluster.StopSiloAsync(_cluster.Silo(_acmePlan));

        var clock = Stopwatch.StartNew();
        var during = await SignAsync("acme", _acme.EcdsaKeyId);
        clock.Stop();
        Assert.Equal(KeyOperationStatus.Unavailable, during.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"unavailable took {clock.Elapsed}");
        Assert.Equal(KeyOperationStatus.Ok, (await SignAsync("globex", _globex.EcdsaKeyId)).Status);

        var management = _cluster.Grains.GetGrain<IManagementGrain>(0);
        var stats = await management.GetSimpleGrainStatistics();
        var globexSilo = _cluster.Silo(_globexPlan).SiloAddress;
        Assert.Contains(stats, s => s.GrainType.Contains(nameof(KeyServer.KeyGrain)) && s.SiloAddress == globexSilo);
        Assert.DoesNotContain(stats, s => s.GrainType.Contains(nameof(KeyServer.KeyGrain)) && s.SiloAddress != globexSilo);

        var restarted = await _cluster.StartSiloAsync(_acmePlan);
        Assert.Equal(KeyOperationStatus.Ok, (await SignUntilOkAsync(TimeSpan.FromSeconds(15))).Status);

        var grain = _cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("acme", "primary", _acme.EcdsaKeyId).ToString());
        Assert.Equal(restarted.SiloAddress, await management.GetActivationAddress(grain));
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _acme.Dispose();
        _globex.Dispose();
        _ca.Dispose();
    }
}
