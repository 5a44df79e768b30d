using System.Buffers.Binary;

namespace KeylessOrleans.Keys;

/// <summary>The hash of a TLS 1.2 cipher suite's PRF (RFC 5246 §5): SHA-256 unless the suite names SHA-384.</summary>
public enum TlsPrfHash
{
    Sha256 = 0,
    Sha384 = 1,
}

/// <summary>
/// One TLS 1.2 RSA key exchange as the key server sees it: enough to derive that handshake's master secret, and
/// nothing that would let it derive another's.
/// </summary>
/// <param name="EncryptedPremaster">The ClientKeyExchange ciphertext, exactly the modulus length.</param>
/// <param name="ClientVersion">ClientHello.client_version, which a well-formed premaster starts with.</param>
/// <param name="ClientRandom">The handshake's client_random (32 bytes).</param>
/// <param name="ServerRandom">
/// The handshake's server_random (32 bytes: gmt_unix_time first, the TLS 1.2 downgrade marker last). The key server
/// derives once per server_random and only while its time is fresh.
/// </param>
/// <param name="Prf">The hash of the negotiated cipher suite's PRF.</param>
/// <param name="Transcript">
/// With extended master secret (RFC 7627): the handshake messages from ClientHello through ClientKeyExchange, as
/// sent, whose hash is the session hash. The key server hashes them itself after checking that the ServerHello in
/// them carries <paramref name="ServerRandom"/> and the ClientKeyExchange this ciphertext. Null without it.
/// </param>
[GenerateSerializer, Immutable, Alias("keyless.RsaKeyExchange")]
public sealed record RsaKeyExchange(
    [property: Id(0)] byte[] EncryptedPremaster,
    [property: Id(1)] ushort ClientVersion,
    [property: Id(2)] byte[] ClientRandom,
    [property: Id(3)] byte[] ServerRandom,
    [property: Id(4)] TlsPrfHash Prf,
    [property: Id(5)] byte[]? Transcript = null)
{
    public bool ExtendedMasterSecret => Transcript is not null;

    /// <summary>Every field in a fixed layout: PRF ‖ EMS flag ‖ randoms ‖ length-prefixed ciphertext ‖ transcript.</summary>
    public byte[] Input()
    {
        var transcript = Transcript ?? [];
        var input = new byte[2 + 32 + 32 + 4 + EncryptedPremaster.Length + transcript.Length];
        input[0] = (byte)Prf;
        input[1] = ExtendedMasterSecret ? (byte)1 : (byte)0;
        ClientRandom.AsSpan(0, Math.Min(32, ClientRandom.Length)).CopyTo(input.AsSpan(2, 32));
        ServerRandom.AsSpan(0, Math.Min(32, ServerRandom.Length)).CopyTo(input.AsSpan(34, 32));
        BinaryPrimitives.WriteInt32BigEndian(input.AsSpan(66), EncryptedPremaster.Length);
        EncryptedPremaster.CopyTo(input.AsSpan(70));
        transcript.CopyTo(input.AsSpan(70 + EncryptedPremaster.Length));
        return input;
    }
}
