using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.Keys;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Edge.Tests.KeyAccess;

/// <summary>
/// The edge builds key grain references from types it resolved once per tenant cluster client: each must be the very
/// reference Orleans' GetGrain gives (same grain id, same interface), and handshakes keep being served through them.
/// </summary>
public sealed class KeyGrainReferencesTests(EdgeFixture site) : IClassFixture<EdgeFixture>
{
    [Fact]
    public async Task A_key_grain_reference_from_the_resolved_types_is_the_one_orleans_builds_and_serves()
    {
        Assert.Contains("Verify return code: 0 (ok)", (await site.SClientAsync(EdgeFixture.Host, "-tls1_3")).Output);
        var grains = await site.EdgeServices.GetRequiredService<TenantClusterClients>().GrainsAsync("acme", CancellationToken.None);

        foreach (var keyId in new[] { site.AcmeKeys.EcdsaKeyId, site.AcmeKeys.RsaKeyId })
        {
            var key = new KeyGrainKey("acme", "primary", keyId);
            var expected = (GrainReference)grains.GetGrain<IKeyGrain>(key.ToString());
            KeyGrainReferences.Get(grains, key);
            var built = (GrainReference)KeyGrainReferences.Get(grains, key);
            Assert.Equal(expected.GrainId, built.GrainId);
            Assert.Equal(expected.InterfaceType, built.InterfaceType);
            Assert.DoesNotContain("sys.", built.GrainId.Type.ToString(), StringComparison.Ordinal);
        }
        for (var i = 0; i < 3; i++)
            Assert.Contains("Verify return code: 0 (ok)", (await site.SClientAsync(EdgeFixture.Host, i % 2 == 0 ? "-tls1_2" : "-tls1_3")).Output);
    }
}
