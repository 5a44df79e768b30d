using System.Net.Sockets;

namespace KeylessOrleans.TestSupport;

/// <summary>Reading what a server sends on a raw socket until it closes the connection.</summary>
public static class SocketReads
{
    /// <summary>
    /// Everything received until the server closed (or reset) the connection, and whether it did so within
    /// <paramref name="limit"/>. A reset counts as a close: what came before it is kept.
    /// </summary>
    public static async Task<(byte[] Reply, bool Closed)> ReadToCloseAsync(Socket socket, TimeSpan limit)
    {
        var reply = new List<byte>();
        var buffer = new byte[16384];
        using var deadline = new CancellationTokenSource(limit);
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0) reply.AddRange(buffer[..read]);
        }
        catch (SocketException)
        {
            // a reset after the last bytes
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return ([.. reply], false);
        }
        return ([.. reply], true);
    }
}
