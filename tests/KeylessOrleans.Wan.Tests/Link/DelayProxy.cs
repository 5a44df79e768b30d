using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KeylessOrleans.Wan.Tests.Link;

/// <summary>
/// The WAN between the edges' site and a tenant's site, as a TCP proxy of our own (this kernel has no netem): each
/// <see cref="Forward"/> listens on one endpoint and connects every accepted connection onward to another, and every
/// byte either way obeys the <see cref="Link"/>'s delay, jitter, loss and blackhole. Sockets come from
/// <paramref name="newSocket"/>, so the proxy can live in a network namespace while the test runs outside it.
/// </summary>
public sealed class DelayProxy(Func<Socket> newSocket) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _running = [];

    public WanLink Link { get; } = new();

    /// <summary>Accepts on <paramref name="listen"/> and forwards each connection to <paramref name="upstream"/>.</summary>
    public void Forward(IPEndPoint listen, IPEndPoint upstream)
    {
        var listener = newSocket();
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(listen);
        listener.Listen(512);
        lock (_listeners) _listeners.Add(listener);
        Track(AcceptAsync(listener, upstream));
    }

    private async Task AcceptAsync(Socket listener, IPEndPoint upstream)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            Track(ConnectAsync(client, upstream));
        }
    }

    private async Task ConnectAsync(Socket client, IPEndPoint upstream)
    {
        using var _ = client;
        using var server = newSocket();
        client.NoDelay = server.NoDelay = true;
        var accepted = Stopwatch.GetTimestamp();
        try
        {
            // The client's SYN and our SYN-ACK would have crossed the link: the connection opens a round trip late.
            await Task.Delay(Link.Settings.RoundTrip, _stop.Token);
            await Link.Open.WaitAsync(_stop.Token);
            await server.ConnectAsync(upstream, _stop.Token);
            var firstData = accepted + (long)((Link.Settings.RoundTrip + Link.Settings.Delay).TotalSeconds * Stopwatch.Frequency);
            var outward = new DelayedPipe(client, server, Link, firstData).RunAsync(_stop.Token);
            var back = new DelayedPipe(server, client, Link, 0).RunAsync(_stop.Token);
            // A reset or error either way ends the connection both ways, as it would end the real one.
            var first = await Task.WhenAny(outward, back);
            if (first.IsFaulted || first.IsCanceled)
            {
                client.Dispose();
                server.Dispose();
            }
            await Task.WhenAll(outward, back);
        }
        catch (Exception)
        {
            // Upstream refused or unreachable, a reset, or the proxy stops: the client sees its connection closed.
        }
    }

    private void Track(Task task)
    {
        lock (_running)
        {
            _running.RemoveAll(t => t.IsCompleted);
            _running.Add(task);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        lock (_listeners) _listeners.ForEach(l => l.Dispose());
        Task[] running;
        lock (_running) running = [.. _running];
        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        _stop.Dispose();
    }
}
