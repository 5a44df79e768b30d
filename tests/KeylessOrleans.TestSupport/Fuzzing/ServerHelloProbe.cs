using System.Net;
using System.Net.Sockets;

namespace KeylessOrleans.TestSupport.Fuzzing;

/// <summary>What the server's first record answered to a raw ClientHello.</summary>
/// <param name="Alert">The alert description, when the server answered with an alert.</param>
/// <param name="Group">The key_share group of its ServerHello (or the group a HelloRetryRequest asks for).</param>
/// <param name="ServerShareLength">The length of the server's key share (0 for a HelloRetryRequest).</param>
public sealed record ServerHelloAnswer(int? Alert, int? Group, bool HelloRetryRequest, int ServerShareLength);

/// <summary>Sends raw ClientHello bytes in chosen TCP segments and reads the server's first record.</summary>
public static class ServerHelloProbe
{
    // RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with this random.
    private static readonly byte[] HelloRetryRandom = Convert.FromHexString("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C");

    /// <param name="segment">Size of each TCP send; the socket has Nagle off and the sends are paced so they leave as separate segments.</param>
    public static async Task<ServerHelloAnswer> SendAsync(IPEndPoint server, byte[] bytes, int segment, TimeSpan limit)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = new CancellationTokenSource(limit);
        await socket.ConnectAsync(server, deadline.Token);
        for (var offset = 0; offset < bytes.Length; offset += segment)
        {
            await socket.SendAsync(bytes.AsMemory(offset, Math.Min(segment, bytes.Length - offset)), SocketFlags.None, deadline.Token);
            await Task.Delay(2, deadline.Token); // pacing, so the next send is a segment of its own
        }
        var header = await ReadExactlyAsync(socket, 5, deadline.Token);
        var body = await ReadExactlyAsync(socket, header[3] << 8 | header[4], deadline.Token);
        if (header[0] == 21) return new(body[1], null, false, 0);
        if (header[0] != 22 || body[0] != 2) throw new InvalidDataException($"first record is type {header[0]}, message {body[0]}");
        var at = 4 + 2; // handshake header, legacy_version
        var retry = body.AsSpan(at, 32).SequenceEqual(HelloRetryRandom);
        at += 32;
        at += 1 + body[at]; // legacy_session_id_echo
        at += 2 + 1; // cipher_suite, legacy_compression_method
        var end = at + 2 + (body[at] << 8 | body[at + 1]);
        for (at += 2; at < end;)
        {
            var type = body[at] << 8 | body[at + 1];
            var length = body[at + 2] << 8 | body[at + 3];
            at += 4;
            if (type == 51)
            {
                var group = body[at] << 8 | body[at + 1];
                return new(null, group, retry, retry ? 0 : body[at + 2] << 8 | body[at + 3]);
            }
            at += length;
        }
        throw new InvalidDataException("the ServerHello has no key_share");
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, CancellationToken cancel)
    {
        var buffer = new byte[count];
        for (var read = 0; read < count;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancel);
            if (n == 0) throw new EndOfStreamException($"closed after {read} of {count} bytes");
            read += n;
        }
        return buffer;
    }
}
