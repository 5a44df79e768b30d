using System.Buffers.Binary;
using System.Security.Cryptography;

namespace KeylessOrleans.TestSupport;

/// <summary>Handshake randoms as the edge makes them for TLS 1.2: server_random = gmt_unix_time ‖ 20 random bytes ‖ "DOWNGRD\x01".</summary>
public static class TlsRandoms
{
    public static byte[] Client() => RandomNumberGenerator.GetBytes(32);

    public static byte[] Server(DateTimeOffset? at = null)
    {
        var random = RandomNumberGenerator.GetBytes(32);
        BinaryPrimitives.WriteUInt32BigEndian(random, (uint)(at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds());
        "DOWNGRD\x01"u8.CopyTo(random.AsSpan(24));
        return random;
    }
}

/// <summary>TLS 1.2 RSA key exchanges as an edge would send them, with fresh randoms and no transcript.</summary>
public static class RsaKeyExchanges
{
    public static KeylessOrleans.Keys.RsaKeyExchange Fresh(byte[] ciphertext, ushort clientVersion = 0x0303, byte[]? serverRandom = null) =>
        new(ciphertext, clientVersion, TlsRandoms.Client(), serverRandom ?? TlsRandoms.Server(), KeylessOrleans.Keys.TlsPrfHash.Sha256);
}
