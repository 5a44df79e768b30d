using System.Security.Cryptography;
using KeylessOrleans.KeyServer;
using KeylessOrleans.KeyServer.KeyStore;
using KeylessOrleans.KeyServer.KeyStore.Pkcs11;
using KeylessOrleans.KeyServer.Tls;
using KeylessOrleans.Keys;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KeylessOrleans.Benchmarks;

/// <summary>The same key operations on keys in PEM files and on keys in a SoftHSM2 token, one thread per core.</summary>
internal static class HsmComparison
{
    public static void Run(int seconds)
    {
        using var ca = new TestCertificateAuthority("Bench HSM CA");
        using var pem = new TenantKeyFolder(ca, ["pem.bench"]);
        var token = SoftHsm.Instance.CreateToken($"bench-{Guid.NewGuid():n}"[..16]);
        var rsaSpki = token.GenerateRsa("bench-rsa");
        var ecSpki = token.GenerateEcP256("bench-ec");
        using var certificates = new TempDirectory("keyless-bench-hsm");
        using var hsmKeys = new Pkcs11KeySet([token.Uri("bench-rsa"), token.Uri("bench-ec")], Environment.ProcessorCount * 2, NullLogger<Pkcs11KeySet>.Instance);
        using var hsmStore = new PemKeyStore(certificates.Path, NullLogger<PemKeyStore>.Instance, hsmKeys.Keys);
        using var pemStore = new PemKeyStore(pem.Path, NullLogger<PemKeyStore>.Instance);
        var hsm = new KeyOperations(hsmStore);
        var local = new KeyOperations(pemStore);

        var content = CertificateVerifyContent.Build(RandomNumberGenerator.GetBytes(32));
        byte[] premaster = [0x03, 0x03, .. RandomNumberGenerator.GetBytes(46)];
        using var hsmRsa = RSA.Create();
        hsmRsa.ImportSubjectPublicKeyInfo(rsaSpki, out _);
        var hsmCiphertext = hsmRsa.Encrypt(premaster, RSAEncryptionPadding.Pkcs1);
        var pemCiphertext = pem.RsaPublic.Encrypt(premaster, RSAEncryptionPadding.Pkcs1);
        var hsmRsaId = KeyIds.FromSubjectPublicKeyInfo(rsaSpki);
        var hsmEcId = KeyIds.FromSubjectPublicKeyInfo(ecSpki);

        Console.WriteLine($"## Key stores: PEM files vs SoftHSM2 (PKCS#11), in-process, {Environment.ProcessorCount} threads");
        Console.WriteLine();
        Console.WriteLine("| operation | PEM ops/s | HSM ops/s | HSM / PEM |");
        Console.WriteLine("|---|---|---|---|");
        var rows = new (string Name, Action Pem, Action Hsm)[]
        {
            ("ECDSA P-256 sign", () => Check(local.SignCertificateVerify(pem.EcdsaKeyId, SignatureScheme.EcdsaSecp256r1Sha256, content)),
                () => Check(hsm.SignCertificateVerify(hsmEcId, SignatureScheme.EcdsaSecp256r1Sha256, content))),
            ("RSA-2048 PSS sign", () => Check(local.SignCertificateVerify(pem.RsaKeyId, SignatureScheme.RsaPssRsaeSha256, content)),
                () => Check(hsm.SignCertificateVerify(hsmRsaId, SignatureScheme.RsaPssRsaeSha256, content))),
            ("RSA-2048 decrypt + master secret", () => Check(local.DeriveMasterSecret(pem.RsaKeyId, RsaKeyExchanges.Fresh(pemCiphertext))),
                () => Check(hsm.DeriveMasterSecret(hsmRsaId, RsaKeyExchanges.Fresh(hsmCiphertext)))),
        };
        foreach (var (name, pemOperation, hsmOperation) in rows)
        {
            var a = KeyOperationLoad.RunOnThreads(pemOperation, TimeSpan.FromSeconds(seconds));
            var b = KeyOperationLoad.RunOnThreads(hsmOperation, TimeSpan.FromSeconds(seconds));
            Console.WriteLine($"| {name} | {a.PerSecond:0} | {b.PerSecond:0} | {b.PerSecond / a.PerSecond:0.00} |");
        }
        Console.WriteLine();
    }

    private static void Check(KeyOperationResult result)
    {
        if (!result.IsOk) throw new InvalidOperationException($"{result.Status}: {result.Detail}");
    }
}
