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
/// What production security adds to every key operation: the edge signs an <see cref="EdgeProof"/> (ECDSA P-256
/// with its cluster certificate key) and the key server checks it (certificate cached by hash, signature every time).
/// </summary>
public class EdgeProofCost
{
    private readonly KeyGrainKey _target = new("bench", "primary", "key");
    private ClusterIdentities _identities = null!;
    private EdgeProofSigner _signer = null!;
    private EdgeAuthenticator _authenticator = null!;
    private SignCertificateVerifyRequest _request = null!;
    private SignCertificateVerifyRequest _signed = null!;

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
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _signer.Dispose();
        _authenticator.Dispose();
        _identities.Dispose();
    }

    [Benchmark]
    public EdgeProof? SignAtTheEdge() => _signer.Sign(_target, _request);

    [Benchmark]
    public string? CheckAtTheKeyServer() => _authenticator.Authenticate(_target, _signed).Edge;
}
