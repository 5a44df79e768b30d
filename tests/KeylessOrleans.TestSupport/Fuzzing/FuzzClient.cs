using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KeylessOrleans.TestSupport.Fuzzing;

/// <summary>How the server ended one fuzzing connection, as the client saw it.</summary>
public enum FuzzOutcome
{
    /// <summary>The reply held a TLS alert record, then the server closed.</summary>
    Alert,
    /// <summary>The server answered with handshake records (the input was still a usable hello), then closed.</summary>
    ServerFlight,
    /// <summary>The server closed without sending anything.</summary>
    Close,
    /// <summary>The connection was reset (by the server, or while we were still sending).</summary>
    Reset,
    /// <summary>We reset it ourselves right after sending; the server's side is not observable.</summary>
    ClientReset,
    /// <summary>The server did not close within the limit.</summary>
    Hang,
}

/// <summary>What happened to one input; the bytes are not kept (a run holds many): recreate them from the seed and index.</summary>
public sealed record FuzzResult(int Index, string Kind, FuzzEnding Ending, int Length, FuzzOutcome Outcome, TimeSpan Elapsed)
{
    public FuzzResult(FuzzInput input, FuzzOutcome outcome, TimeSpan elapsed)
        : this(input.Index, input.Kind, input.Ending, input.Bytes.Length, outcome, elapsed)
    {
    }

    public override string ToString() => $"#{Index} {Kind} ({Length} bytes, {Ending}): {Outcome} after {Elapsed.TotalSeconds:F2} s";
}

/// <summary>A client that sends one fuzz input and waits (up to a limit) for the server to close.</summary>
public static class FuzzClient
{
    public static async Task<FuzzResult> SendAsync(IPEndPoint server, FuzzInput input, TimeSpan limit)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var deadline = new CancellationTokenSource(limit);
        await socket.ConnectAsync(server, deadline.Token);
        var clock = Stopwatch.StartNew();
        try
        {
            await socket.SendAsync(input.Bytes, SocketFlags.None, deadline.Token);
            switch (input.Ending)
            {
                case FuzzEnding.HalfClose:
                    socket.Shutdown(SocketShutdown.Send);
                    break;
                case FuzzEnding.Reset:
                    socket.LingerState = new LingerOption(true, 0); // close sends RST
                    socket.Close();
                    return new(input, FuzzOutcome.ClientReset, clock.Elapsed);
            }
        }
        catch (SocketException)
        {
            // The server closed while we were still sending (e.g. at an oversized header): read what it said.
        }
        var outcome = await ReadUntilClosedAsync(socket, deadline.Token);
        return new(input, outcome, clock.Elapsed);
    }

    /// <summary>
    /// Sends <paramref name="bytes"/> one at a time, <paramref name="interval"/> apart, until the server closes;
    /// returns how long after connecting it did (or <paramref name="limit"/> if it never did).
    /// </summary>
    public static async Task<TimeSpan> TrickleAsync(IPEndPoint server, byte[] bytes, TimeSpan interval, TimeSpan limit)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var deadline = new CancellationTokenSource(limit);
        await socket.ConnectAsync(server, deadline.Token);
        var clock = Stopwatch.StartNew();
        var closed = ReadUntilClosedAsync(socket, deadline.Token);
        try
        {
            for (var i = 0; i < bytes.Length && !closed.IsCompleted; i++)
            {
                await socket.SendAsync(bytes.AsMemory(i, 1), SocketFlags.None, deadline.Token);
                await Task.WhenAny(closed, Task.Delay(interval, deadline.Token));
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // Closed under us, or out of time: the read says which.
        }
        return await closed == FuzzOutcome.Hang ? limit : clock.Elapsed;
    }

    private static async Task<FuzzOutcome> ReadUntilClosedAsync(Socket socket, CancellationToken deadline)
    {
        var records = new RecordScanner();
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline)) > 0) records.Add(buffer.AsSpan(0, read));
        }
        catch (SocketException)
        {
            return records.SawAlert ? FuzzOutcome.Alert : FuzzOutcome.Reset;
        }
        catch (OperationCanceledException)
        {
            return FuzzOutcome.Hang;
        }
        return records.SawAlert ? FuzzOutcome.Alert : records.SawHandshake ? FuzzOutcome.ServerFlight : FuzzOutcome.Close;
    }

    /// <summary>Follows record headers across reads to see which content types the server sent.</summary>
    private sealed class RecordScanner
    {
        private readonly byte[] _header = new byte[5];
        private int _headerFill;
        private int _skip;

        public bool SawAlert { get; private set; }
        public bool SawHandshake { get; private set; }

        public void Add(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                if (_skip > 0)
                {
                    var n = Math.Min(_skip, bytes.Length);
                    _skip -= n;
                    bytes = bytes[n..];
                    continue;
                }
                _header[_headerFill++] = bytes[0];
                bytes = bytes[1..];
                if (_headerFill < _header.Length) continue;
                _headerFill = 0;
                SawAlert |= _header[0] == 21;
                SawHandshake |= _header[0] == 22;
                _skip = _header[3] << 8 | _header[4];
            }
        }
    }
}
