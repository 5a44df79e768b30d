using System.Security.Cryptography;

namespace KeylessOrleans.Keys;

/// <summary>
/// Key ids are the lowercase hex SHA-256 of the DER SubjectPublicKeyInfo. Unlike gokeyless' SHA-1 SKI this
/// covers the algorithm identifier too, so an RSA and an EC key can never collide, and it is the same
/// value `openssl pkey -pubout -outform DER | sha256sum` prints.
/// </summary>
public static class KeyIds
{
    public static string FromSubjectPublicKeyInfo(ReadOnlySpan<byte> spkiDer) =>
        Convert.ToHexStringLower(SHA256.HashData(spkiDer));

    public static bool IsWellFormed(string? keyId) =>
        keyId is { Length: 64 } && keyId.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');
}
