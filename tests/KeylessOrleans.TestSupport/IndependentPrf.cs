using KeylessOrleans.Keys;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.TestSupport;

/// <summary>TLS 1.2 master secrets as BouncyCastle's own PRF derives them: the reference our key server must match.</summary>
public static class IndependentPrf
{
    public static byte[] MasterSecret(byte[] premaster, byte[] clientRandom, byte[] serverRandom, TlsPrfHash prf = TlsPrfHash.Sha256) =>
        Derive(premaster, ExporterLabel.master_secret, [.. clientRandom, .. serverRandom], prf);

    public static byte[] ExtendedMasterSecret(byte[] premaster, byte[] sessionHash, TlsPrfHash prf = TlsPrfHash.Sha256) =>
        Derive(premaster, ExporterLabel.extended_master_secret, sessionHash, prf);

    private static byte[] Derive(byte[] premaster, string label, byte[] seed, TlsPrfHash prf)
    {
        var crypto = new BcTlsCrypto(new SecureRandom());
        var algorithm = prf == TlsPrfHash.Sha384 ? PrfAlgorithm.tls_prf_sha384 : PrfAlgorithm.tls_prf_sha256;
        return crypto.CreateSecret(premaster).DeriveUsingPrf(algorithm, label, seed, 48).Extract();
    }
}
