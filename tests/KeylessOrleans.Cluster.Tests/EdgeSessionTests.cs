using System.Security.Cryptography;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Cluster.Tests;

/// <summary>
/// Edge sessions: an edge proves one session request with its certificate's signature, then proves each key request
/// with an HMAC under a key both sides derived by ECDH. The key server must accept exactly those and nothing forged,
/// and an edge whose key server restarted (sessions gone) must not lose a request.
/// </summary>
public sealed class EdgeSessionTests : IAsyncLifetime
{
    private readonly ClusterIdentities _identities = new();
    private readonly ClusterIdentities _foreign = new("Someone else's CA");
    private readonly TestCertificateAuthority _webCa = new();
    private TenantKeyFolder _acme = null!, _initech = null!, _globex = null!;
    private SiloPlan.Edge _edge = null!;
    private SiloPlan.OnPrem _acmePlan = null!, _initechPlan = null!, _globexPlan = null!;
    private KeylessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _acme = new TenantKeyFolder(_webCa, ["www.acme.test"]);
        _edge = new SiloPlan.Edge { Identity = _identities.Issue(SiloIdentity.Edge("edge-a")) };
        _acmePlan = new SiloPlan.OnPrem("acme", "primary", _acme.Path) { Access = new KeyAccessOptions { EdgeCa = _identities.CaFile } };
        _initech = new TenantKeyFolder(_webCa, ["initech.test"]);
        _initechPlan = new SiloPlan.OnPrem("initech", "primary", _initech.Path)
        {
            Access = new KeyAccessOptions { EdgeCa = _identities.CaFile, TenantRate = 1, TenantBurst = 2 },
        };
        _globex = new TenantKeyFolder(_webCa, ["globex.test"]);
        _globexPlan = new SiloPlan.OnPrem("globex", "primary", _globex.Path)
        {
            Access = new KeyAccessOptions { EdgeCa = _identities.CaFile, AllowedEdges = ["edge-b"] },
        };
        _cluster = await KeylessTestCluster.StartAsync(_edge, _acmePlan, _initechPlan, _globexPlan);
    }

    private IServiceProvider Edge => _cluster.Services(_cluster.Silo(_edge));
    private KeyServerClient Client => Edge.GetRequiredService<KeyServerClient>();
    private EdgeProofSigner EdgeSigner => Edge.GetRequiredService<EdgeProofSigner>();
    private KeyGrainKey Target => new("acme", "primary", _acme.EcdsaKeyId);
    private IKeyGrain Grain => _cluster.Grains.GetGrain<IKeyGrain>(Target.ToString());
    private EdgeAuthenticator KeyServerSessions => _cluster.Services(_cluster.Silo(_acmePlan)).GetRequiredService<EdgeAuthenticator>();

    private SignCertificateVerifyRequest Request() =>
        new(Client.Context("acme", _acme.EcdsaKeyId, "www.acme.test", "192.0.2.9"), SignatureScheme.EcdsaSecp256r1Sha256,
            CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32)));

    /// <summary>Key calls through the edge until its session with acme is open (the first call only starts opening it).</summary>
    private async Task UntilSessionOpenAsync()
    {
        // A call may time out while a just-started cluster warms up on a busy machine; the poll asks again.
        var last = KeyOperationStatus.Unavailable;
        var open = await Poll.UntilAsync(async () =>
        {
            last = (await Client.PerformAsync("primary", Request())).Status;
            return last == KeyOperationStatus.Ok && EdgeSigner.Sign(Target, Request())!.Session is not null;
        }, TimeSpan.FromSeconds(20));
        Assert.True(open, $"the edge never opened a session with acme's key server (last call: {last})");
    }

    [Fact]
    public async Task After_one_signed_session_request_the_edges_requests_carry_an_hmac_the_key_server_accepts()
    {
        await UntilSessionOpenAsync();

        var request = Request();
        var proof = EdgeSigner.Sign(Target, request)!;
        Assert.Empty(proof.Certificate); // no certificate, no signature: the session's id and MAC
        Assert.Equal(32, proof.Signature.Length);
        Assert.Equal(KeyOperationStatus.Ok, (await Grain.PerformAsync(request with { Proof = proof })).Status);
        Assert.Equal(1, KeyServerSessions.Sessions);
    }

    [Fact]
    public async Task Forged_session_proofs_and_session_requests_are_refused_and_no_key_is_touched()
    {
        await UntilSessionOpenAsync();
        var genuine = Request();
        var proof = EdgeSigner.Sign(Target, genuine)!;

        // The session's id with a MAC for another request; a MAC flipped; a session id nobody issued.
        var otherRequest = Request();
        var swapped = await Grain.PerformAsync(otherRequest with { Proof = proof });
        var flipped = await Grain.PerformAsync(genuine with { Proof = proof with { Signature = [.. proof.Signature[..^1], (byte)(proof.Signature[^1] ^ 1)] } });
        var invented = await Grain.PerformAsync(genuine with { Proof = proof with { Session = RandomNumberGenerator.GetBytes(16) } });
        Assert.Equal(KeyOperationStatus.Unauthorized, swapped.Status);
        Assert.Contains("session MAC of edge edge-a does not match", swapped.Detail);
        Assert.Equal(KeyOperationStatus.Unauthorized, flipped.Status);
        Assert.Equal(KeyOperationStatus.Unauthorized, invented.Status);
        Assert.Equal(EdgeSessionCrypto.UnknownSession, invented.Detail);

        // The genuine one once, then its replay.
        Assert.Equal(KeyOperationStatus.Ok, (await Grain.PerformAsync(genuine with { Proof = proof })).Status);
        Assert.Contains("replayed", (await Grain.PerformAsync(genuine with { Proof = proof })).Detail);

        // Session requests: signed under another CA, signed by edge-a for another replica, a stale one.
        var foreign = Signer(_foreign.Issue(SiloIdentity.Edge("edge-a"))).NewSessionRequest("acme", "primary");
        var elsewhere = Signer(_edge.Identity!.Value).NewSessionRequest("acme", "backup");
        var stale = Signer(_edge.Identity!.Value).NewSessionRequest("acme", "primary");
        var before = KeyServerSessions.Sessions;
        Assert.Contains("not issued by the cluster CA", (await Grain.OpenEdgeSessionAsync(foreign.Request)).Problem);
        Assert.Contains("signature of edge edge-a does not match", (await Grain.OpenEdgeSessionAsync(elsewhere.Request)).Problem);
        Assert.Contains("time is", (await Grain.OpenEdgeSessionAsync(stale.Request with { UnixTimeMilliseconds = stale.Request.UnixTimeMilliseconds - 600_000 })).Problem);
        Assert.Equal(before, KeyServerSessions.Sessions);

        // A genuine session request opens one session; the same request again opens none.
        var genuineOpen = Signer(_edge.Identity!.Value).NewSessionRequest("acme", "primary");
        Assert.Null((await Grain.OpenEdgeSessionAsync(genuineOpen.Request)).Problem);
        Assert.Contains("replayed", (await Grain.OpenEdgeSessionAsync(genuineOpen.Request)).Problem);
        Assert.Equal(before + 1, KeyServerSessions.Sessions);
        foreach (var (_, ephemeral) in new[] { foreign, elsewhere, stale, genuineOpen }) ephemeral.Dispose();
    }

    [Fact]
    public async Task A_restarted_key_server_knows_no_sessions_and_the_edges_next_request_is_still_served()
    {
        await UntilSessionOpenAsync();
        var oldSession = EdgeSigner.Sign(Target, Request())!.Session!;

        await _cluster.Cluster.StopSiloAsync(_cluster.Silo(_acmePlan));
        await _cluster.StartSiloAsync(_acmePlan);
        var outcomes = new List<KeyOperationStatus>();
        var served = await Poll.UntilAsync(async () =>
        {
            outcomes.Add((await Client.PerformAsync("primary", Request())).Status);
            return outcomes[^1] == KeyOperationStatus.Ok;
        }, TimeSpan.FromSeconds(15));

        Assert.True(served, string.Join(", ", outcomes));
        Assert.DoesNotContain(KeyOperationStatus.Unauthorized, outcomes); // unavailable while it restarted, never refused
        // The edge's first request to the new silo carried the old session, was refused as unknown, and went again signed.
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(EdgeSigner.Sign(Target, Request())!.Session is { } s && !s.SequenceEqual(oldSession)), TimeSpan.FromSeconds(10)),
            "the edge did not open a new session with the restarted key server");
    }

    [Fact]
    public async Task An_edge_the_tenant_does_not_allow_gets_no_session()
    {
        var grain = _cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("globex", "primary", _globex.EcdsaKeyId).ToString());
        var (request, ephemeral) = Signer(_edge.Identity!.Value).NewSessionRequest("globex", "primary");
        using (ephemeral)
            Assert.Contains("edge-a is not among this tenant's allowed edges", (await grain.OpenEdgeSessionAsync(request)).Problem);
        Assert.Equal(0, _cluster.Services(_cluster.Silo(_globexPlan)).GetRequiredService<EdgeAuthenticator>().Sessions);
    }

    [Fact]
    public async Task Session_requests_take_from_the_tenants_rate_limit_like_key_requests()
    {
        var grain = _cluster.Grains.GetGrain<IKeyGrain>(new KeyGrainKey("initech", "primary", _initech.EcdsaKeyId).ToString());
        var signer = Signer(_edge.Identity!.Value);
        var problems = new List<string?>();
        for (var i = 0; i < 6; i++)
        {
            var (request, ephemeral) = signer.NewSessionRequest("initech", "primary");
            using (ephemeral) problems.Add((await grain.OpenEdgeSessionAsync(request)).Problem);
        }

        Assert.Contains(null, problems); // the burst lets the first ones open
        Assert.True(problems.Count(p => p?.StartsWith("tenant rate limit", StringComparison.Ordinal) == true) >= 3, string.Join(" | ", problems));
    }

    private static EdgeProofSigner Signer((string Certificate, string Key) identity) =>
        new(Options.Create(new EdgeOptions { IdentityCertificate = identity.Certificate, IdentityKey = identity.Key }), TimeProvider.System);

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _acme.Dispose();
        _initech.Dispose();
        _globex.Dispose();
        _webCa.Dispose();
        _identities.Dispose();
        _foreign.Dispose();
    }
}
