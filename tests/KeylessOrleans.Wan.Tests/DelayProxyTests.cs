using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using KeylessOrleans.TestSupport;
using KeylessOrleans.Wan.Tests.Link;

namespace KeylessOrleans.Wan.Tests;

/// <summary>The delay proxy on loopback: what it does to bytes is what the WAN drills rely on.</summary>
public sealed class DelayProxyTests : IAsyncLifetime
{
    private readonly Socket _echo = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly DelayProxy _proxy = new(() => new Socket(SocketType.Stream, ProtocolType.Tcp));
    private readonly IPEndPoint _front = new(IPAddress.Loopback, KeylessProcess.FreePort());
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(60));

    public Task InitializeAsync()
    {
        _echo.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _echo.Listen();
        _ = EchoAsync();
        _proxy.Forward(_front, (IPEndPoint)_echo.LocalEndPoint!);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_round_trip_takes_twice_the_one_way_delay()
    {
        _proxy.Link.Set(new LinkSettings(Delay: TimeSpan.FromMilliseconds(20)));
        using var client = await ConnectAsync();
        await RoundTripAsync(client, 10); // the connection's own opening round trip is not measured
        var times = new List<double>();
        for (var i = 0; i < 10; i++) times.Add((await RoundTripAsync(client, 100)).TotalMilliseconds);

        times.Sort();
        Assert.True(times[0] >= 40, $"a round trip took {times[0]:0.0} ms, below 2 × 20 ms");
        Assert.True(times[5] < 40 + 10, $"median round trip {times[5]:0.0} ms (2 × 20 ms expected)");
    }

    [Fact]
    public async Task Bytes_arrive_complete_and_in_order_under_jitter_and_loss()
    {
        _proxy.Link.Set(new LinkSettings(Delay: TimeSpan.FromMilliseconds(2), Jitter: TimeSpan.FromMilliseconds(5), Loss: 0.05, RetransmitAfter: TimeSpan.FromMilliseconds(20)));
        using var client = await ConnectAsync();
        var sent = RandomNumberGenerator.GetBytes(512 * 1024);
        var receiving = ReceiveAsync(client, sent.Length);
        for (var at = 0; at < sent.Length;)
        {
            var size = Math.Min(sent.Length - at, Random.Shared.Next(1, 9000));
            await client.SendAsync(sent.AsMemory(at, size), SocketFlags.None);
            at += size;
        }
        Assert.Equal(sent, await receiving);
    }

    [Fact]
    public async Task A_lost_segment_holds_its_connection_for_the_retransmission()
    {
        _proxy.Link.Set(new LinkSettings(Loss: 1, RetransmitAfter: TimeSpan.FromMilliseconds(150)));
        using var client = await ConnectAsync();
        var elapsed = await RoundTripAsync(client, 100);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(300), $"a round trip with every segment lost took {elapsed.TotalMilliseconds:0} ms (2 × 150 ms expected)");
    }

    [Fact]
    public async Task A_blackhole_holds_everything_until_it_is_lifted_and_then_delivers_it_intact()
    {
        using var client = await ConnectAsync();
        await RoundTripAsync(client, 10);
        _proxy.Link.Update(s => s with { Blackholed = true });
        var message = RandomNumberGenerator.GetBytes(3000);
        await client.SendAsync(message, SocketFlags.None);
        var answer = ReceiveAsync(client, message.Length);
        await Task.Delay(500);
        Assert.False(answer.IsCompleted, "bytes crossed a blackholed link");

        using var late = await ConnectAsync(); // accepted, but not connected onward while blackholed
        var lateAnswer = RoundTripAsync(late, 10);
        await Task.Delay(300);
        Assert.False(lateAnswer.IsCompleted, "a new connection crossed a blackholed link");

        _proxy.Link.Update(s => s with { Blackholed = false });
        Assert.Equal(message, await answer.WaitAsync(TimeSpan.FromSeconds(5)));
        await lateAnswer.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private async Task<Socket> ConnectAsync()
    {
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(_front, _stop.Token);
        return client;
    }

    private async Task<TimeSpan> RoundTripAsync(Socket client, int bytes)
    {
        var message = RandomNumberGenerator.GetBytes(bytes);
        var clock = Stopwatch.StartNew();
        await client.SendAsync(message, SocketFlags.None, _stop.Token);
        Assert.Equal(message, await ReceiveAsync(client, bytes));
        return clock.Elapsed;
    }

    private async Task<byte[]> ReceiveAsync(Socket client, int bytes)
    {
        var received = new byte[bytes];
        for (var at = 0; at < bytes;)
        {
            var read = await client.ReceiveAsync(received.AsMemory(at), SocketFlags.None, _stop.Token);
            if (read == 0) throw new EndOfStreamException($"closed after {at} of {bytes} bytes");
            at += read;
        }
        return received;
    }

    private async Task EchoAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var connection = await _echo.AcceptAsync(_stop.Token);
            _ = Task.Run(async () =>
            {
                using var _ = connection;
                var buffer = new byte[16 * 1024];
                int read;
                while ((read = await connection.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                    await connection.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            });
        }
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        _stop.Cancel();
        _echo.Dispose();
        _stop.Dispose();
    }
}
