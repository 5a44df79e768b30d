using System.Net;
using System.Net.Sockets;

namespace KeylessOrleans.Edge.Forwarding;

/// <summary>
/// The binary PROXY protocol v2 header (haproxy's proxy-protocol.txt §2.2) that tells an origin the real client
/// address: signature, version/command PROXY, TCP over IPv4 or IPv6, source and destination address and port.
/// </summary>
internal static class ProxyProtocolV2
{
    private static ReadOnlySpan<byte> Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static byte[] Header(IPEndPoint source, IPEndPoint destination)
    {
        var sourceAddress = Unmapped(source.Address);
        var destinationAddress = Unmapped(destination.Address);
        var ipv4 = sourceAddress.AddressFamily == AddressFamily.InterNetwork && destinationAddress.AddressFamily == AddressFamily.InterNetwork;
        var src = ipv4 ? sourceAddress : sourceAddress.MapToIPv6();
        var dst = ipv4 ? destinationAddress : destinationAddress.MapToIPv6();
        var addressLength = ipv4 ? 12 : 36;
        var header = new byte[16 + addressLength];
        Signature.CopyTo(header);
        header[12] = 0x21;                       // version 2, command PROXY
        header[13] = (byte)(ipv4 ? 0x11 : 0x21); // TCP over IPv4 / IPv6
        header[14] = (byte)(addressLength >> 8);
        header[15] = (byte)addressLength;
        var body = header.AsSpan(16);
        var size = ipv4 ? 4 : 16;
        src.TryWriteBytes(body[..size], out _);
        dst.TryWriteBytes(body.Slice(size, size), out _);
        body[2 * size] = (byte)(source.Port >> 8);
        body[2 * size + 1] = (byte)source.Port;
        body[2 * size + 2] = (byte)(destination.Port >> 8);
        body[2 * size + 3] = (byte)destination.Port;
        return header;
    }

    /// <summary>A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; origins expect the IPv4 form.</summary>
    private static IPAddress Unmapped(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
