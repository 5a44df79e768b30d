using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Cluster.Security;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Access;

/// <summary>
/// Who sent a key request, from its <see cref="EdgeProof"/>: a certificate the cluster CA issued to an edge, and
/// that certificate's key signing this very request, recently, once. Certificates are checked once and then
/// remembered by their hash (until they expire); signatures are checked every time.
/// </summary>
public sealed class EdgeAuthenticator : IDisposable
{
    private const int CachedCertificates = 4096;

    private readonly X509Certificate2? _authority;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, CertifiedEdge> _certified = new(StringComparer.Ordinal);

    public EdgeAuthenticator(KeyAccessOptions options, TimeProvider time)
    {
        _window = options.FreshnessWindow;
        _time = time;
        if (!string.IsNullOrWhiteSpace(options.EdgeCa)) _authority = X509CertificateLoader.LoadCertificateFromFile(options.EdgeCa);
    }

    /// <summary>False in the single-machine demo: no CA, so no way to tell edges apart.</summary>
    public bool IsEnabled => _authority is not null;

    /// <summary>The edge's name, or why the proof does not hold.</summary>
    public (string? Edge, string? Problem) Authenticate(KeyGrainKey target, IKeyOperationRequest request)
    {
        if (request.Proof is not { } proof) return (null, "the request carries no edge proof");
        var skew = _time.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(proof.UnixTimeMilliseconds);
        if (skew.Duration() > _window) return (null, $"the edge proof's time is {skew.TotalSeconds:0.0} s off (window {_window.TotalSeconds:0} s)");
        if (proof.Nonce.Length != 16) return (null, "the edge proof's nonce is not 16 bytes");

        var edge = Certify(proof.Certificate);
        if (edge.Problem is not null) return (null, edge.Problem);
        var content = EdgeProofContent.Build(target, request, proof.UnixTimeMilliseconds, proof.Nonce);
        if (!edge.Key!.VerifyData(content, proof.Signature, HashAlgorithmName.SHA256))
            return (null, $"the signature of edge {edge.Name} does not match the request");
        return (edge.Name, null);
    }

    private CertifiedEdge Certify(byte[] der)
    {
        var id = Convert.ToHexString(SHA256.HashData(der));
        if (_certified.TryGetValue(id, out var known) && known.NotAfter > _time.GetUtcNow()) return known;
        if (_certified.Count >= CachedCertificates) _certified.Clear(); // a flood of certificates must not grow memory

        var checkedEdge = Check(der);
        _certified[id] = checkedEdge;
        return checkedEdge;
    }

    private CertifiedEdge Check(byte[] der)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException)
        {
            return CertifiedEdge.Refused("the edge proof's certificate does not parse");
        }
        using (certificate)
        {
            if (ClusterCertificates.Problem(certificate, _authority!) is { } problem) return CertifiedEdge.Refused(problem);
            if (SiloIdentity.FromCertificate(certificate) is not { Role: SiloIdentity.EdgeRole } identity)
                return CertifiedEdge.Refused($"certificate '{certificate.Subject}' is not an edge's");
            var key = certificate.GetECDsaPublicKey();
            if (key is null) return CertifiedEdge.Refused($"certificate '{certificate.Subject}' has no ECDSA key");
            return new CertifiedEdge(identity.Name, key, null, certificate.NotAfter.ToUniversalTime());
        }
    }

    public void Dispose()
    {
        _authority?.Dispose();
        foreach (var edge in _certified.Values) edge.Key?.Dispose();
    }

    private sealed record CertifiedEdge(string? Name, ECDsa? Key, string? Problem, DateTimeOffset NotAfter)
    {
        /// <summary>Refusals are remembered briefly too, so a bad certificate repeated does not cost a chain build each time.</summary>
        public static CertifiedEdge Refused(string problem) => new(null, null, problem, DateTimeOffset.UtcNow.AddMinutes(1));
    }
}
