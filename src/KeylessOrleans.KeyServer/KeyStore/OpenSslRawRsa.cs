using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;

namespace KeylessOrleans.KeyServer.KeyStore;

/// <summary>
/// Raw RSA decryption (no padding) with OpenSSL, on the very key .NET's <see cref="RSAOpenSsl"/> holds. OpenSSL
/// blinds the operation and uses constant-time big-number code, and is ~8× faster than managed RSA; the PKCS#1
/// check then happens in <see cref="Tls.PremasterUnpadding"/>, never in OpenSSL (whose PKCS#1 decryption fails
/// visibly on bad padding).
/// </summary>
[SupportedOSPlatform("linux")]
internal static partial class OpenSslRawRsa
{
    private const string LibCrypto = "libcrypto.so.3";
    private const int RsaNoPadding = 3;

    /// <summary>Writes m = c^d mod n, left-padded, into <paramref name="output"/> (modulus length). False when OpenSSL refuses c.</summary>
    public static bool Decrypt(SafeEvpPKeyHandle key, ReadOnlySpan<byte> ciphertext, Span<byte> output)
    {
        var context = EVP_PKEY_CTX_new(key, IntPtr.Zero);
        if (context == IntPtr.Zero) throw new CryptographicException("OpenSSL could not create an RSA decryption context");
        try
        {
            if (EVP_PKEY_decrypt_init(context) <= 0 || EVP_PKEY_CTX_set_rsa_padding(context, RsaNoPadding) <= 0)
                throw new CryptographicException("OpenSSL refused raw RSA decryption");
            var length = (nuint)output.Length;
            var ok = EVP_PKEY_decrypt(context, ref MemoryMarshal.GetReference(output), ref length, in MemoryMarshal.GetReference(ciphertext), (nuint)ciphertext.Length);
            if (ok <= 0)
            {
                ERR_clear_error();
                return false;
            }
            if ((int)length < output.Length)
            {
                // Keep the value right-aligned, as a modulus-length block.
                output[..(int)length].CopyTo(output[(output.Length - (int)length)..]);
                output[..(output.Length - (int)length)].Clear();
            }
            return true;
        }
        finally
        {
            EVP_PKEY_CTX_free(context);
        }
    }

    [LibraryImport(LibCrypto)]
    private static partial IntPtr EVP_PKEY_CTX_new(SafeEvpPKeyHandle key, IntPtr engine);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_decrypt_init(IntPtr context);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_CTX_set_rsa_padding(IntPtr context, int padding);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_decrypt(IntPtr context, ref byte output, ref nuint outputLength, in byte input, nuint inputLength);

    [LibraryImport(LibCrypto)]
    private static partial void EVP_PKEY_CTX_free(IntPtr context);

    [LibraryImport(LibCrypto)]
    private static partial void ERR_clear_error();
}
