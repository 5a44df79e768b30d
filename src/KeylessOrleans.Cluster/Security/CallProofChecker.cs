using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KeylessOrleans.Cluster.Security;

/// <summary>
/// Who signed a <see cref="CallProof"/>: a certificate the cluster CA issued, naming a keyless identity, whose key
/// signed this very call, within <paramref name="window"/> of now, once. Certificates are checked against the CA
/// once and then remembered by their hash (a bounded number); signatures and validity dates every time.
/// </summary>
internal sealed class CallProofChecker(X509Certificate2 authority, TimeSpan window, int replayCacheSize, TimeProvider time)
{
    private const int CachedCertificates = 1024;

    private readonly ConcurrentDictionary<string, Certified> _certified = new(StringComparer.Ordinal);
    private readonly ReplayCache _nonces = new(window + window, replayCacheSize, time);

    /// <summary>The caller's identity, or why the proof does not hold.</summary>
    public (SiloIdentity? Caller, string? Problem) Check(byte[]? proof, CallProof.Call call)
    {
        if (proof is null) return (null, "the call carries no cluster proof");
        if (CallProof.Decode(proof) is not { } parts) return (null, "the call's cluster proof is malformed");
        var now = time.GetUtcNow();
        var age = now - DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(parts.UnixTimeMilliseconds, 0, 253402300799999));
        if (age > window || age < -window)
            return (null, $"the call's cluster proof is {age.TotalSeconds:0.#} s old (allowed: {window.TotalSeconds:0.#} s either way; check the clocks)");

        var certified = Certify(parts.Certificate);
        if (certified.Problem is not null) return (null, certified.Problem);
        if (now < certified.NotBefore || now > certified.NotAfter) return (null, $"the certificate of {certified.Identity} is not valid now");
        if (!certified.Key!.VerifyData(CallProof.SignedContent(call, parts.UnixTimeMilliseconds, parts.Nonce), parts.Signature,
                HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))
            return (null, $"the signature of {certified.Identity} does not match this call");

        // Only a proof whose signature held takes a place in the cache: forged ones cannot fill it.
        var seen = SHA256.HashData([.. parts.Nonce, .. SHA256.HashData(parts.Certificate)]);
        return _nonces.TryAdd(seen) switch
        {
            ReplayCache.Outcome.New => (certified.Identity, null),
            ReplayCache.Outcome.Replayed => (null, $"replayed cluster proof of {certified.Identity}"),
            _ => (null, "too many cluster proofs in the freshness window (replay cache full)"),
        };
    }

    private Certified Certify(byte[] der)
    {
        var hash = Convert.ToHexString(SHA256.HashData(der));
        if (_certified.TryGetValue(hash, out var known)) return known;
        Certified result;
        try
        {
            using var certificate = X509CertificateLoader.LoadCertificate(der);
            result = ClusterCertificates.Problem(certificate, authority) is { } problem
                ? new Certified(null, null, default, default, problem)
                : certificate.GetECDsaPublicKey() is { } key
                    ? new Certified(SiloIdentity.FromCertificate(certificate), key, certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime(), null)
                    : new Certified(null, null, default, default, $"certificate '{certificate.Subject}' has no ECDSA key");
        }
        catch (CryptographicException)
        {
            return new Certified(null, null, default, default, "the call's cluster proof carries no readable certificate");
        }
        // Refusals are not remembered: a caller could fill the cache with made-up certificates.
        if (result.Problem is null)
        {
            if (_certified.Count >= CachedCertificates) _certified.Clear();
            _certified[hash] = result;
        }
        return result;
    }

    private sealed record Certified(SiloIdentity? Identity, ECDsa? Key, DateTimeOffset NotBefore, DateTimeOffset NotAfter, string? Problem);
}
