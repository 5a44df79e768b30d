using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KeylessOrleans.Cluster.Security;

/// <summary>Signs <see cref="CallProof"/>s with this process's cluster certificate and its key.</summary>
internal sealed class CallProofSigner : IDisposable
{
    private readonly byte[] _certificate;
    private readonly ECDsa _key;
    private readonly TimeProvider _time;

    public CallProofSigner(X509Certificate2 certificate, TimeProvider time)
    {
        _key = certificate.GetECDsaPrivateKey()
            ?? throw new ArgumentException($"the cluster certificate '{certificate.Subject}' has no ECDSA private key (cluster certificates are P-256)");
        _certificate = certificate.RawData;
        _time = time;
        Identity = SiloIdentity.FromCertificate(certificate);
    }

    /// <summary>Who the proofs say this process is.</summary>
    public SiloIdentity? Identity { get; }

    public byte[] Sign(CallProof.Call call)
    {
        var time = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var nonce = RandomNumberGenerator.GetBytes(CallProof.NonceLength);
        var signature = _key.SignData(CallProof.SignedContent(call, time, nonce), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        return CallProof.Encode(time, nonce, _certificate, signature);
    }

    public void Dispose() => _key.Dispose();
}
