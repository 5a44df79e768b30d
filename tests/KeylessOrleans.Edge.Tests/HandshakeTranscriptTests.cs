using System.Security.Cryptography;
using KeylessOrleans.Edge.Tls;

namespace KeylessOrleans.Edge.Tests;

/// <summary>
/// The edge's record of a TLS 1.2 handshake's messages, which the key server hashes into the session hash: whatever
/// the TCP segmentation and record framing, it is ClientHello ‖ the server's flight ‖ the client's key exchange.
/// </summary>
public sealed class HandshakeTranscriptTests
{
    private static byte[] Message(byte type, int length) => [type, (byte)(length >> 16), (byte)(length >> 8), (byte)length, .. RandomNumberGenerator.GetBytes(length)];

    private static byte[] Records(byte type, byte[] payload, int fragment)
    {
        var records = new List<byte>();
        for (var at = 0; at < payload.Length; at += fragment)
        {
            var part = payload[at..Math.Min(payload.Length, at + fragment)];
            records.AddRange([type, 3, 3, (byte)(part.Length >> 8), (byte)part.Length, .. part]);
        }
        return [.. records];
    }

    private readonly byte[] _hello = Message(1, 517), _serverHello = Message(2, 70), _certificate = Message(11, 2400),
        _done = Message(14, 0), _keyExchange = Message(16, 258), _finished = Message(20, 12);

    [Theory]
    [InlineData(16384, 1)]
    [InlineData(16384, 7)]
    [InlineData(100, 3)] // messages split over records, records over reads
    [InlineData(16384, 100000)]
    public void The_messages_through_the_client_key_exchange_come_out_whatever_the_framing(int fragment, int readSize)
    {
        var transcript = new HandshakeTranscript();
        byte[] client = [.. Records(22, _hello, fragment), .. Records(22, _keyExchange, fragment), 20, 3, 3, 0, 1, 1, .. Records(22, _finished, fragment)];
        byte[] server = Records(22, [.. _serverHello, .. _certificate, .. _done], fragment);

        Feed(transcript.FromClient, client[..Records(22, _hello, fragment).Length], readSize);
        Feed(transcript.FromServer, server, readSize);
        Assert.Null(transcript.ThroughClientKeyExchange()); // no ClientKeyExchange yet
        Feed(transcript.FromClient, client[Records(22, _hello, fragment).Length..], readSize);

        byte[] expected = [.. _hello, .. _serverHello, .. _certificate, .. _done, .. _keyExchange];
        Assert.Equal(expected, transcript.ThroughClientKeyExchange());
    }

    [Fact]
    public void A_stopped_or_overflowing_recording_gives_nothing()
    {
        var stopped = new HandshakeTranscript();
        stopped.FromClient(Records(22, _hello, 16384));
        stopped.Stop();
        stopped.FromServer(Records(22, [.. _serverHello, .. _done], 16384));
        stopped.FromClient(Records(22, _keyExchange, 16384));
        Assert.Null(stopped.ThroughClientKeyExchange());

        var flooded = new HandshakeTranscript();
        flooded.FromClient(Records(22, _hello, 16384));
        flooded.FromServer(Records(22, [.. _serverHello, .. Message(11, HandshakeTranscript.MaxLength), .. _done], 16384));
        flooded.FromClient(Records(22, _keyExchange, 16384));
        Assert.Null(flooded.ThroughClientKeyExchange());
    }

    private static void Feed(Action<ReadOnlySpan<byte>> sink, byte[] bytes, int readSize)
    {
        for (var at = 0; at < bytes.Length; at += readSize) sink(bytes.AsSpan(at, Math.Min(readSize, bytes.Length - at)));
    }
}
