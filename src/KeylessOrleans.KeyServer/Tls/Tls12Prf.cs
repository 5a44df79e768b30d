using System.Security.Cryptography;
using System.Text;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Tls;

/// <summary>The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label ‖ seed) with HMAC over the suite's PRF hash.</summary>
internal static class Tls12Prf
{
    public const int MasterSecretLength = 48;
    public const string MasterSecretLabel = "master secret";
    public const string ExtendedMasterSecretLabel = "extended master secret";

    public static byte[] Derive(TlsPrfHash prf, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> seed, int length)
    {
        byte[] labelAndSeed = [.. Encoding.ASCII.GetBytes(label), .. seed];
        using var hmac = IncrementalHash.CreateHMAC(TlsHashes.Of(prf), secret);
        var output = new byte[length];
        var a = labelAndSeed; // A(0)
        for (var written = 0; written < length;)
        {
            hmac.AppendData(a);
            a = hmac.GetHashAndReset(); // A(i) = HMAC(secret, A(i-1))
            hmac.AppendData(a);
            hmac.AppendData(labelAndSeed);
            var block = hmac.GetHashAndReset();
            var take = Math.Min(block.Length, length - written);
            block.AsSpan(0, take).CopyTo(output.AsSpan(written));
            CryptographicOperations.ZeroMemory(block);
            written += take;
        }
        CryptographicOperations.ZeroMemory(a);
        return output;
    }
}
