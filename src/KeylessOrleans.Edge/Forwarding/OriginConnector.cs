using System.Net;
using System.Net.Sockets;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Edge.Forwarding;

/// <summary>Opens the TCP connection to a tenant's origin, with a deadline, and sends the PROXY v2 header when asked.</summary>
internal static class OriginConnector
{
    public static async Task<Socket> ConnectAsync(OriginEndpoint origin, IPEndPoint client, IPEndPoint local, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var addresses = IPAddress.TryParse(origin.Host, out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(origin.Host, deadline.Token);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, origin.Port, deadline.Token);
            if (origin.ProxyProtocol)
                await socket.SendAsync(ProxyProtocolV2.Header(client, local), SocketFlags.None, deadline.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
