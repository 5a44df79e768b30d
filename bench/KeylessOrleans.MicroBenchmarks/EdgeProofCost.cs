using BenchmarkDotNet.Attributes;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.KeyAccess;
using KeylessOrleans.KeyServer.Access;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.MicroBenchmarks;

/// <summary>
/// What production security adds to every key operation: the edge proves it with an <see cref="EdgeProof"/> and the
/// key server checks it — an ECDSA P-256 signature with the edge's cluster certificate key (certificate cached by
/// hash, signature every time), or, once an edge session is open, an HMAC-SHA256 under the session key.
/// </summary>
public class EdgeProofCost
{
    private readonly KeyGrainKey _target = new("bench", "primary", "key");
    private ClusterIdentities _identities = null!;
    private EdgeProofSigner _signer = null!;
    private EdgeAuthenticator _authenticator = null!;
    private SignCertificateVerifyRequest _request = null!;
    private SignCertificateVerifyRequest _signed = null!;
    private EdgeProofSigner _sessionSigner = null!;
    private SignCertificateVerifyRequest _maced = null!;

    [GlobalSetup]
    public void Setup()
    {
        _identities = new ClusterIdentities("bench CA");
        var (certificate, key) = _identities.Issue(SiloIdentity.Edge("edge-a"));
        _signer = new EdgeProofSigner(Options.Create(new EdgeOptions { IdentityCertificate = certificate, IdentityKey = key }), TimeProvider.System);
        _authenticator = new EdgeAuthenticator(new KeyAccessOptions { EdgeCa = _identities.CaFile }, TimeProvider.System);
        _request = new SignCertificateVerifyRequest(new KeyRequestContext("bench", "key", "www.bench.test", "192.0.2.1", "edge-a"), SignatureScheme.EcdsaSecp256r1Sha256, new byte[130]);
        _signed = _request with { Proof = _signer.Sign(_target, _request) };
        if (_authenticator.Authenticate(_target, _signed).Problem is { } problem) throw new InvalidOperationException(problem);

        // A second signer with an open session: the same exchange an edge and a key grain make.
        _sessionSigner = new EdgeProofSigner(Options.Create(new EdgeOptions { IdentityCertificate = certificate, IdentityKey = key }), TimeProvider.System);
        if (!_sessionSigner.TryClaimOpening(_target.Tenant, _target.Replica)) throw new InvalidOperationException("no session to open");
        var (open, ephemeral) = _sessionSigner.NewSessionRequest(_target.Tenant, _target.Replica);
        using (ephemeral)
        {
            var (grant, _) = _authenticator.OpenSession(_target.Tenant, _target.Replica, open, _ => null);
            if (_sessionSigner.Opened(_target.Tenant, _target.Replica, open, ephemeral, grant) is { } refused) throw new InvalidOperationException(refused);
        }
        _maced = _request with { Proof = _sessionSigner.Sign(_target, _request) };
        if (_maced.Proof!.Session is null || _authenticator.Authenticate(_target, _maced).Problem is { } macProblem)
            throw new InvalidOperationException("the session proof does not check");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _signer.Dispose();
        _sessionSigner.Dispose();
        _authenticator.Dispose();
        _identities.Dispose();
    }

    [Benchmark]
    public EdgeProof? SignAtTheEdge() => _signer.Sign(_target, _request);

    [Benchmark]
    public string? CheckAtTheKeyServer() => _authenticator.Authenticate(_target, _signed).Edge;

    [Benchmark]
    public EdgeProof? MacAtTheEdge() => _sessionSigner.Sign(_target, _request);

    [Benchmark]
    public string? CheckMacAtTheKeyServer() => _authenticator.Authenticate(_target, _maced).Edge;
}
