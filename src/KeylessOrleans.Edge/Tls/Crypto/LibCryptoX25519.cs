using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace KeylessOrleans.Edge.Tls.Crypto;

/// <summary>
/// X25519 (RFC 7748) from OpenSSL's libcrypto, the library .NET itself uses on Linux: its field arithmetic is
/// several times faster than BouncyCastle's managed code, and a full handshake does two scalar multiplications.
/// </summary>
[SupportedOSPlatform("linux")]
internal static partial class LibCryptoX25519
{
    private const string LibCrypto = "libcrypto.so.3";
    private const int NidX25519 = 1034; // EVP_PKEY_X25519
    public const int Size = 32;

    /// <summary>An X25519 private key held by OpenSSL (which computes its public key once, when it is made).</summary>
    public static PrivateKey NewPrivateKey(ReadOnlySpan<byte> privateKey) => new(NewRawPrivateKey(privateKey));

    /// <summary>Writes the public key of <paramref name="key"/> into <paramref name="publicKey"/>.</summary>
    public static void PublicKey(PrivateKey key, Span<byte> publicKey)
    {
        var length = (nuint)publicKey.Length;
        if (EVP_PKEY_get_raw_public_key(key, ref MemoryMarshal.GetReference(publicKey), ref length) != 1 || length != Size)
            throw Failed("EVP_PKEY_get_raw_public_key");
    }

    /// <summary>
    /// Writes the shared secret of <paramref name="key"/> and <paramref name="peerPublicKey"/> into
    /// <paramref name="secret"/>. False when there is none: OpenSSL refuses a peer key whose result is all zeros (a
    /// small-order point), which TLS must treat as a failed handshake (RFC 8446, section 7.4.2).
    /// </summary>
    public static bool Agree(PrivateKey key, ReadOnlySpan<byte> peerPublicKey, Span<byte> secret)
    {
        var peer = IntPtr.Zero;
        var context = IntPtr.Zero;
        try
        {
            peer = EVP_PKEY_new_raw_public_key(NidX25519, IntPtr.Zero, in MemoryMarshal.GetReference(peerPublicKey), (nuint)peerPublicKey.Length);
            if (peer == IntPtr.Zero) return Refused();
            context = EVP_PKEY_CTX_new(key, IntPtr.Zero);
            if (context == IntPtr.Zero || EVP_PKEY_derive_init(context) != 1) throw Failed("EVP_PKEY_derive_init");
            if (EVP_PKEY_derive_set_peer(context, peer) != 1) return Refused();
            var length = (nuint)secret.Length;
            if (EVP_PKEY_derive(context, ref MemoryMarshal.GetReference(secret), ref length) != 1 || length != Size) return Refused();
            return true;
        }
        finally
        {
            if (context != IntPtr.Zero) EVP_PKEY_CTX_free(context);
            if (peer != IntPtr.Zero) EVP_PKEY_free(peer);
        }
    }

    /// <summary>An EVP_PKEY, freed when disposed (or, for a handshake abandoned before its secret, when collected).</summary>
    public sealed class PrivateKey : SafeHandle
    {
        public PrivateKey() : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        internal PrivateKey(IntPtr handle) : this() => SetHandle(handle);

        public override bool IsInvalid => handle == IntPtr.Zero;

        protected override bool ReleaseHandle()
        {
            EVP_PKEY_free(handle);
            return true;
        }
    }

    private static IntPtr NewRawPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        var key = EVP_PKEY_new_raw_private_key(NidX25519, IntPtr.Zero, in MemoryMarshal.GetReference(privateKey), (nuint)privateKey.Length);
        return key != IntPtr.Zero ? key : throw Failed("EVP_PKEY_new_raw_private_key");
    }

    private static bool Refused()
    {
        ERR_clear_error();
        return false;
    }

    private static System.Security.Cryptography.CryptographicException Failed(string call)
    {
        ERR_clear_error();
        return new System.Security.Cryptography.CryptographicException($"OpenSSL X25519: {call} failed");
    }

    [LibraryImport(LibCrypto)]
    private static partial IntPtr EVP_PKEY_new_raw_private_key(int type, IntPtr engine, in byte key, nuint length);

    [LibraryImport(LibCrypto)]
    private static partial IntPtr EVP_PKEY_new_raw_public_key(int type, IntPtr engine, in byte key, nuint length);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_get_raw_public_key(PrivateKey key, ref byte output, ref nuint length);

    [LibraryImport(LibCrypto)]
    private static partial IntPtr EVP_PKEY_CTX_new(PrivateKey key, IntPtr engine);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_derive_init(IntPtr context);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_derive_set_peer(IntPtr context, IntPtr peer);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_derive(IntPtr context, ref byte secret, ref nuint length);

    [LibraryImport(LibCrypto)]
    private static partial void EVP_PKEY_CTX_free(IntPtr context);

    [LibraryImport(LibCrypto)]
    private static partial void EVP_PKEY_free(IntPtr key);

    [LibraryImport(LibCrypto)]
    private static partial void ERR_clear_error();
}
