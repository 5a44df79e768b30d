using KeylessOrleans.Edge.CallAccess;
using KeylessOrleans.Edge.Handshake;
using KeylessOrleans.Edge.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>
/// The edge's grain-call filter in a cluster without a CA (the in-memory cluster, the single-machine demo): callers
/// cannot prove a role, but the handshake grain still serves only its own process.
/// </summary>
public sealed class GrainCallAuthorizationTests(TwoTenantsFixture fixture) : IClassFixture<TwoTenantsFixture>
{
    private readonly KeylessTestCluster _cluster = fixture.Cluster;

    private static KeyCall Call => new(["primary"], []);

    private KeyRequestContext Context => new("acme", fixture.AcmeKeys.EcdsaKeyId, "www.acme.test", "192.0.2.1", "edge");

    private SignCertificateVerifyRequest CertificateVerify => new(Context, SignatureScheme.EcdsaSecp256r1Sha256, new byte[64]);

    [Fact]
    public async Task A_remote_caller_cannot_use_the_handshake_grain()
    {
        var remote = _cluster.Cluster.Client.GetGrain<IHandshakeGrain>(0);

        var refused = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => remote.PerformAsync(Call, CertificateVerify));
        Assert.Contains("only the edge's own process", refused.Message);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => remote.PerformAsync(Call, new DelegateCredentialRequest(Context, new byte[32], SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.EcdsaSecp256r1Sha256, new byte[65], 3600, PossessionSignature: new byte[64])));
        // Another silo of the cluster (or a hosted service) without the process's secret is refused the same way.
        var inside = _cluster.Grains.GetGrain<IHandshakeGrain>(0);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => inside.PerformAsync(Call, CertificateVerify));
    }

    [Fact]
    public void The_edge_s_own_handshakes_reach_the_handshake_grain()
    {
        var gateway = _cluster.Services(fixture.EdgeSilo).GetRequiredService<IKeyOperationGateway>();

        var result = gateway.Perform(Call, CertificateVerify);

        // The call went through the handshake grain to acme's key grain, which refuses content that is no TLS 1.3
        // CertificateVerify: the filter let the edge's own call in.
        Assert.Equal(KeyOperationStatus.InvalidRequest, result.Status);
        Assert.DoesNotContain("handshake grain failed", result.Detail);
        // The secret came with the call to the handshake grain, and was gone before it called into the tenant's silo.
        Assert.Contains(_cluster.Calls.ContextKeys, c => c.Method.Contains("IHandshakeGrain") && c.Keys.Contains(LocalCallSecret.ContextKey));
        var keyCalls = _cluster.Calls.ContextKeys.Where(c => c.Method.Contains("IKeyGrain")).ToList();
        Assert.NotEmpty(keyCalls);
        Assert.All(keyCalls, c => Assert.DoesNotContain(LocalCallSecret.ContextKey, c.Keys));
    }

    [Fact]
    public async Task Without_a_cluster_ca_role_checked_calls_pass_and_the_secret_is_never_left_behind()
    {
        var registry = _cluster.Cluster.Client.GetGrain<IRegistryGrain>(IRegistryGrain.DefaultKey);
        Assert.NotEmpty(await registry.ListTenantsAsync(null, 10));
        Assert.False(ActivatorUtilities.CreateInstance<GrainCallAuthorization>(_cluster.Services(fixture.EdgeSilo)).ChecksProofs);

        var secret = _cluster.Services(fixture.EdgeSilo).GetRequiredService<LocalCallSecret>();
        secret.Call(() => 0);
        Assert.Null(RequestContext.Get(LocalCallSecret.ContextKey));
    }
}
