using System.Security.Cryptography;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Tests.Access;

/// <summary>
/// A request is remembered for as long as its time would let it in: a server_random dated at the far edge of the
/// freshness window, and an edge proof made by an edge whose clock runs ahead, are still refused as replays at the
/// other edge of the window; beyond it their time refuses them. The memory is bounded, and full means refused.
/// </summary>
public sealed class ReplayWindowTests : IDisposable
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(30);
    // Whole seconds, like gmt_unix_time: the window's edges are then exact.
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
    private readonly ClusterIdentities _identities = new();

    private static DeriveMasterSecretRequest MasterSecret(byte[] serverRandom) =>
        new(new KeyRequestContext("acme", "key", "www.acme.test", "192.0.2.1", "edge-a"), RsaKeyExchanges.Fresh(RandomNumberGenerator.GetBytes(256), serverRandom: serverRandom));

    [Fact]
    public void A_server_random_from_the_far_edge_of_the_window_is_refused_as_replayed_until_its_time_refuses_it()
    {
        var freshness = new HandshakeFreshness(new KeyAccessOptions { FreshnessWindow = Window }, _clock);
        var request = MasterSecret(TlsRandoms.Server(_clock.GetUtcNow() + Window + TimeSpan.FromSeconds(1))); // the latest accepted

        Assert.Null(freshness.Check(request));
        _clock.Advance(Window + TimeSpan.FromSeconds(1)); // other handshakes go on meanwhile
        Assert.Null(freshness.Check(MasterSecret(TlsRandoms.Server(_clock.GetUtcNow()))));
        _clock.Advance(Window + TimeSpan.FromSeconds(0.5)); // the first one's time is still accepted
        Assert.Contains("replayed", freshness.Check(request)!.Detail);
        _clock.Advance(TimeSpan.FromSeconds(2)); // now its time is out of the window
        Assert.Contains("stale or replayed", freshness.Check(request)!.Detail);
    }

    [Fact]
    public void A_full_replay_cache_refuses_with_rate_limited_rather_than_serving_unchecked()
    {
        var freshness = new HandshakeFreshness(new KeyAccessOptions { FreshnessWindow = Window, ReplayCacheSize = 1000 }, _clock);
        for (var i = 0; i < 1000; i++) Assert.Null(freshness.Check(MasterSecret(TlsRandoms.Server(_clock.GetUtcNow()))));

        var refused = freshness.Check(MasterSecret(TlsRandoms.Server(_clock.GetUtcNow())));

        Assert.Equal(KeyOperationStatus.RateLimited, refused!.Status);
        Assert.Contains("replay cache full", refused.Detail);
    }

    [Fact]
    public void An_edge_proof_works_once_for_as_long_as_its_time_is_accepted()
    {
        var authenticator = new EdgeAuthenticator(new KeyAccessOptions { EdgeCa = _identities.CaFile, FreshnessWindow = Window }, _clock);
        _clock.Advance(Window - TimeSpan.FromSeconds(1)); // late in the replay cache's first generation
        var aheadClock = new ManualClock(_clock.GetUtcNow() + Window - TimeSpan.FromSeconds(0.5)); // the edge's clock runs ahead
        var identity = _identities.Issue(SiloIdentity.Edge("edge-a"));
        using var edge = new EdgeProofSigner(Options.Create(new EdgeOptions { IdentityCertificate = identity.Certificate, IdentityKey = identity.Key }), aheadClock);
        var target = new KeyGrainKey("acme", "primary", "key");
        var request = new SignCertificateVerifyRequest(new KeyRequestContext("acme", "key", "www.acme.test", "192.0.2.1", "edge-a"),
            SignatureScheme.EcdsaSecp256r1Sha256, new byte[130]);
        var signed = request with { Proof = edge.Sign(target, request) };

        Assert.Equal(("edge-a", null), authenticator.Authenticate(target, signed));
        _clock.Advance(Window - TimeSpan.FromSeconds(1)); // other requests go on meanwhile
        aheadClock.Advance(Window - TimeSpan.FromSeconds(1));
        Assert.Equal("edge-a", authenticator.Authenticate(target, request with { Proof = edge.Sign(target, request) }).Edge);
        _clock.Advance(Window); // the first proof's time is still accepted (29.5 s off)
        var replayed = authenticator.Authenticate(target, signed);
        Assert.Null(replayed.Edge);
        Assert.Contains("proof was replayed", replayed.Problem);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Contains("s off", authenticator.Authenticate(target, signed).Problem);
        // A fresh proof for the same request is a new proof (whether the content may be served again is the freshness check's).
        Assert.Equal("edge-a", authenticator.Authenticate(target, request with { Proof = edge.Sign(target, request) }).Edge);
    }

    public void Dispose() => _identities.Dispose();
}
