using System.Buffers.Binary;
using KeylessOrleans.Keys;

namespace KeylessOrleans.KeyServer.Tls;

/// <summary>
/// Checks the handshake messages an edge sends for an extended-master-secret derivation (RFC 7627 §3): ClientHello,
/// then the server's flight (ServerHello, Certificate, optionally CertificateStatus, ServerHelloDone), then the
/// ClientKeyExchange, as they went over the wire. The key server hashes exactly these bytes into the session hash, so
/// it must know they belong to a handshake happening now and to this ciphertext: the ServerHello's random is the
/// request's (checked fresh and unseen before this), and the ClientKeyExchange carries the request's ciphertext.
/// </summary>
internal static class RsaKeyExchangeTranscript
{
    /// <summary>Far above any real transcript (this server's hello, certificate chain and staple fit in a few KB).</summary>
    public const int MaxLength = 128 * 1024;

    private const byte ClientHello = 1;
    private const byte ServerHello = 2;
    private const byte Certificate = 11;
    private const byte CertificateRequest = 13;
    private const byte ServerHelloDone = 14;
    private const byte ClientKeyExchange = 16;
    private const byte CertificateStatus = 22;
    private const ushort Tls12 = 0x0303;

    /// <summary>Null when the transcript is this exchange's, else why not.</summary>
    public static string? Validate(RsaKeyExchange exchange)
    {
        if (exchange.Transcript is not { } transcript) return "no transcript";
        if (transcript.Length > MaxLength) return $"transcript of {transcript.Length} bytes (at most {MaxLength})";
        var messages = new List<(byte Type, int Start, int Length)>();
        for (var at = 0; at < transcript.Length;)
        {
            if (HandshakeMessages.End(transcript, at) is not { } end) return "transcript ends inside a message";
            messages.Add((transcript[at], at + HandshakeMessages.HeaderLength, end - at - HandshakeMessages.HeaderLength));
            at = end;
        }
        if (messages.Count < 4) return "transcript has fewer messages than a full handshake";

        var (firstType, helloStart, helloLength) = messages[0];
        if (firstType != ClientHello || helloLength < 34) return "transcript does not start with a ClientHello";
        var hello = transcript.AsSpan(helloStart, helloLength);
        if (BinaryPrimitives.ReadUInt16BigEndian(hello) != exchange.ClientVersion) return "ClientHello version is not the request's";
        if (!hello.Slice(2, 32).SequenceEqual(exchange.ClientRandom)) return "ClientHello random is not the request's";

        var (secondType, serverStart, serverLength) = messages[1];
        if (secondType != ServerHello || serverLength < 34) return "the ClientHello is not followed by a ServerHello";
        var serverHello = transcript.AsSpan(serverStart, serverLength);
        if (BinaryPrimitives.ReadUInt16BigEndian(serverHello) != Tls12) return "ServerHello is not TLS 1.2";
        if (!serverHello.Slice(2, 32).SequenceEqual(exchange.ServerRandom)) return "ServerHello random is not the request's";

        var serverDone = false;
        for (var i = 2; i < messages.Count - 1; i++)
        {
            var type = messages[i].Type;
            if (serverDone ? type != Certificate : type is not (Certificate or CertificateStatus or CertificateRequest or ServerHelloDone))
                return $"unexpected handshake message {type} in an RSA key exchange";
            serverDone |= type == ServerHelloDone;
        }
        if (!serverDone) return "no ServerHelloDone before the ClientKeyExchange";

        var (lastType, exchangeStart, exchangeLength) = messages[^1];
        if (lastType != ClientKeyExchange) return "transcript does not end with the ClientKeyExchange";
        var keyExchange = transcript.AsSpan(exchangeStart, exchangeLength);
        if (keyExchange.Length < 2 || BinaryPrimitives.ReadUInt16BigEndian(keyExchange) != keyExchange.Length - 2
            || !keyExchange[2..].SequenceEqual(exchange.EncryptedPremaster))
            return "the ClientKeyExchange does not carry the request's ciphertext";
        return null;
    }
}
