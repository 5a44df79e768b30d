using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.KeyServer.Tests.Access;

/// <summary>
/// The key server's edge-session table: one edge opening sessions without end cannot push the other edges' sessions out.
/// </summary>
public sealed class EdgeSessionTableTests : IDisposable
{
    private readonly KeyGrainKey _target = new("acme", "primary", "key");
    private readonly ClusterIdentities _identities = new();
    private readonly EdgeAuthenticator _authenticator;
    private readonly EdgeProofSigner _edgeA, _edgeB;

    public EdgeSessionTableTests()
    {
        _authenticator = new EdgeAuthenticator(new KeyAccessOptions { EdgeCa = _identities.CaFile }, TimeProvider.System);
        _edgeA = Signer("edge-a");
        _edgeB = Signer("edge-b");
    }

    [Fact]
    public void One_edge_opening_sessions_in_a_loop_keeps_only_its_cap_and_never_evicts_another_edges_session()
    {
        Assert.Null(Open(_edgeB));

        for (var i = 0; i < 5 * EdgeAuthenticator.MaxSessionsPerEdge; i++)
            Assert.Null(Open(Signer("edge-a")));

        Assert.Equal(EdgeAuthenticator.MaxSessionsPerEdge, _authenticator.SessionsOf("edge-a"));
        var request = new SignCertificateVerifyRequest(new KeyRequestContext("acme", "key", "www.acme.test", "192.0.2.1", "edge-b"),
            SignatureScheme.EcdsaSecp256r1Sha256, new byte[130]);
        var proof = _edgeB.Sign(_target, request)!;
        Assert.NotNull(proof.Session);
        Assert.Equal(("edge-b", (string?)null), _authenticator.Authenticate(_target, request with { Proof = proof }));
    }

    /// <summary>The edge asks for a session and takes the grant, as its key-server client does; the refusal, if any.</summary>
    private string? Open(EdgeProofSigner edge)
    {
        if (!edge.TryClaimOpening(_target.Tenant, _target.Replica)) return "no session to open";
        var (request, ephemeral) = edge.NewSessionRequest(_target.Tenant, _target.Replica);
        using (ephemeral)
        {
            var (grant, _) = _authenticator.OpenSession(_target.Tenant, _target.Replica, request, _ => null);
            return grant.Problem ?? edge.Opened(_target.Tenant, _target.Replica, request, ephemeral, grant);
        }
    }

    private readonly List<EdgeProofSigner> _signers = [];

    private EdgeProofSigner Signer(string name)
    {
        var (certificate, key) = _identities.Issue(SiloIdentity.Edge(name));
        var signer = new EdgeProofSigner(Options.Create(new EdgeOptions { IdentityCertificate = certificate, IdentityKey = key }), TimeProvider.System);
        _signers.Add(signer);
        return signer;
    }

    public void Dispose()
    {
        foreach (var signer in _signers) signer.Dispose();
        _authenticator.Dispose();
        _identities.Dispose();
    }
}
