using System.Diagnostics;
using KeylessOrleans.Keys;
using Org.BouncyCastle.Security;

namespace KeylessOrleans.KeyServer.Tests;

/// <summary>
/// Verifies signatures with code other than the signer's: BouncyCastle for RSA and ECDSA (signed by .NET/OpenSSL),
/// the openssl command line for Ed25519 (signed by BouncyCastle).
/// </summary>
public static class IndependentVerifier
{
    public static bool Verify(SignatureScheme scheme, byte[] subjectPublicKeyInfo, byte[] message, byte[] signature)
    {
        if (scheme == SignatureScheme.Ed25519) return VerifyWithOpenSsl(subjectPublicKeyInfo, message, signature);
        var verifier = SignerUtilities.GetSigner(scheme switch
        {
            SignatureScheme.RsaPkcs1Sha256 => "SHA-256withRSA",
            SignatureScheme.RsaPkcs1Sha384 => "SHA-384withRSA",
            SignatureScheme.RsaPkcs1Sha512 => "SHA-512withRSA",
            SignatureScheme.RsaPssRsaeSha256 => "SHA-256withRSAandMGF1",
            SignatureScheme.RsaPssRsaeSha384 => "SHA-384withRSAandMGF1",
            SignatureScheme.RsaPssRsaeSha512 => "SHA-512withRSAandMGF1",
            SignatureScheme.EcdsaSecp256r1Sha256 => "SHA-256withECDSA",
            SignatureScheme.EcdsaSecp384r1Sha384 => "SHA-384withECDSA",
            _ => throw new ArgumentOutOfRangeException(nameof(scheme)),
        });
        verifier.Init(false, PublicKeyFactory.CreateKey(subjectPublicKeyInfo));
        verifier.BlockUpdate(message, 0, message.Length);
        return verifier.VerifySignature(signature);
    }

    private static bool VerifyWithOpenSsl(byte[] spki, byte[] message, byte[] signature)
    {
        var dir = Directory.CreateTempSubdirectory("keyless-verify-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "pub.pem"), System.Security.Cryptography.PemEncoding.WriteString("PUBLIC KEY", spki));
            File.WriteAllBytes(Path.Combine(dir, "msg"), message);
            File.WriteAllBytes(Path.Combine(dir, "sig"), signature);
            var start = new ProcessStartInfo("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg", "-sigfile", "sig"])
            {
                WorkingDirectory = dir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            if (!process.WaitForExit(30_000)) { process.Kill(); throw new TimeoutException("openssl did not finish"); }
            return process.ExitCode == 0 && output.Contains("Signature Verified Successfully");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
