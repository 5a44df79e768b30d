using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KeylessOrleans.Wan.Tests.Link;

/// <summary>
/// A round-trip probe across the link, as an application sees it: a tiny echo server on one side and a client on the
/// other that sends 32 bytes and waits for them back, every 10 ms, on one connection. Its RTT includes what the
/// link adds and what waking the processes on either side costs on this machine — the yardstick for "one round trip".
/// </summary>
public sealed class TcpPing : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private readonly List<(TimeSpan At, double RttMs)> _samples = [];

    /// <param name="newServerSocket">Makes the echo server's listening socket (in the far site).</param>
    /// <param name="listen">Where the echo server listens.</param>
    public TcpPing(Func<Socket> newServerSocket, IPEndPoint listen)
    {
        _listener = newServerSocket();
        _listener.Bind(listen);
        _listener.Listen(4);
        _running.Add(EchoAsync());
    }

    /// <summary>Starts probing <paramref name="target"/> (through the link) with a socket from <paramref name="newClientSocket"/>; <paramref name="clock"/> stamps the samples.</summary>
    public void Start(Func<Socket> newClientSocket, IPEndPoint target, Func<TimeSpan> clock) => _running.Add(ProbeAsync(newClientSocket, target, clock));

    /// <summary>Round trips measured so far: when each was sent, and how long it took.</summary>
    public IReadOnlyList<(TimeSpan At, double RttMs)> Samples
    {
        get { lock (_samples) return [.. _samples]; }
    }

    private async Task ProbeAsync(Func<Socket> newSocket, IPEndPoint target, Func<TimeSpan> clock)
    {
        using var socket = newSocket();
        socket.NoDelay = true;
        await socket.ConnectAsync(target, _stop.Token);
        var message = new byte[32];
        var answer = new byte[32];
        while (!_stop.IsCancellationRequested)
        {
            var at = clock();
            var started = Stopwatch.GetTimestamp();
            await socket.SendAsync(message, SocketFlags.None, _stop.Token);
            for (var read = 0; read < answer.Length;)
            {
                var n = await socket.ReceiveAsync(answer.AsMemory(read), SocketFlags.None, _stop.Token);
                if (n == 0) return;
                read += n;
            }
            var rtt = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            lock (_samples) _samples.Add((at, rtt));
            await Task.Delay(10, _stop.Token);
        }
    }

    private async Task EchoAsync()
    {
        using var connection = await _listener.AcceptAsync(_stop.Token);
        connection.NoDelay = true;
        var buffer = new byte[4096];
        int read;
        while ((read = await connection.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
            await connection.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            await Task.WhenAll(_running);
        }
        catch (Exception)
        {
            // Cancelled or reset on the way out.
        }
        _stop.Dispose();
    }
}
