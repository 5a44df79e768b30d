using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Keys;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.KeyAccess;

/// <summary>
/// Signs every key request with this edge's cluster certificate key, so tenants' key servers know which edge asks
/// (<see cref="EdgeProof"/>). Without a certificate (single-machine demo) requests go unsigned, and key servers
/// that require proofs refuse them.
/// </summary>
public sealed class EdgeProofSigner : IDisposable
{
    private readonly byte[]? _certificate;
    private readonly ECDsa? _key;
    private readonly TimeProvider _time;

    public EdgeProofSigner(IOptions<EdgeOptions> options, TimeProvider time)
    {
        _time = time;
        var o = options.Value;
        if (string.IsNullOrWhiteSpace(o.IdentityCertificate)) return;
        using var certificate = X509Certificate2.CreateFromPemFile(o.IdentityCertificate, o.IdentityKey);
        _key = certificate.GetECDsaPrivateKey()
            ?? throw new InvalidOperationException($"Keyless:Edge:IdentityKey '{o.IdentityKey}' is not an ECDSA key (cluster certificates are P-256)");
        _certificate = certificate.RawData;
    }

    public bool IsEnabled => _key is not null;

    /// <summary>The proof for <paramref name="request"/> sent to <paramref name="target"/>, or null when this edge has no identity.</summary>
    public EdgeProof? Sign(KeyGrainKey target, IKeyOperationRequest request)
    {
        if (_key is null) return null;
        var time = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var nonce = RandomNumberGenerator.GetBytes(16);
        var signature = _key.SignData(EdgeProofContent.Build(target, request, time, nonce), HashAlgorithmName.SHA256);
        return new EdgeProof(_certificate!, time, nonce, signature);
    }

    public void Dispose() => _key?.Dispose();
}
