using System.Diagnostics;
using System.Net.Sockets;
using System.Threading.Channels;

namespace KeylessOrleans.Wan.Tests.Link;

/// <summary>
/// One direction of a proxied TCP connection: reads chunks from <paramref name="from"/>, stamps each with the time
/// the link lets it out (<see cref="WanLink.DueAt"/>, never before the chunk ahead of it) and writes it to
/// <paramref name="to"/> then. End of stream travels the same way, as the last chunk.
/// </summary>
internal sealed class DelayedPipe(Socket from, Socket to, WanLink link, long notBefore)
{
    private const int ChunkBytes = 64 * 1024;

    /// <summary>Chunks in flight per direction; when full the reader stops reading and TCP flow control pushes back.</summary>
    private readonly Channel<Chunk> _inFlight = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true });

    /// <summary>Runs until end of stream or a socket error; a reset or error on either side ends both (the caller closes them).</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var reading = ReadAsync(stop);
        var writing = WriteAsync(stop);
        await Task.WhenAll(reading, writing);
    }

    private async Task ReadAsync(CancellationToken stop)
    {
        var last = notBefore;
        try
        {
            while (true)
            {
                var buffer = new byte[ChunkBytes];
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, stop);
                var arrived = Stopwatch.GetTimestamp();
                last = Math.Max(last, link.DueAt(arrived, Math.Max(read, 1)));
                await _inFlight.Writer.WriteAsync(new Chunk(buffer, read, arrived, last), stop);
                if (read == 0) break;
            }
            _inFlight.Writer.TryComplete();
        }
        catch (Exception e)
        {
            _inFlight.Writer.TryComplete(e);
        }
    }

    private async Task WriteAsync(CancellationToken stop)
    {
        await foreach (var chunk in _inFlight.Reader.ReadAllAsync(stop))
        {
            // .NET's timers tick in whole milliseconds and may fire up to one early; a link must never be faster
            // than its setting, so wait out any remainder (the proxy's real hold times are recorded in the link).
            for (var wait = Until(chunk.Due); wait > TimeSpan.Zero; wait = Until(chunk.Due))
                await Task.Delay(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait, stop);
            await link.Open.WaitAsync(stop);
            if (chunk.Length == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                return;
            }
            for (var sent = 0; sent < chunk.Length;)
                sent += await to.SendAsync(chunk.Bytes.AsMemory(sent, chunk.Length - sent), SocketFlags.None, stop);
            link.RecordHold(Stopwatch.GetElapsedTime(chunk.Arrived));
        }
        await _inFlight.Reader.Completion; // rethrows the reader's socket error
    }

    private static TimeSpan Until(long due) => Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);

    private sealed record Chunk(byte[] Bytes, int Length, long Arrived, long Due);
}
