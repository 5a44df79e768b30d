using System.Net;
using System.Net.Sockets;

namespace KeylessOrleans.TestSupport;

/// <summary>
/// Listening ports for the processes a test starts. They come from below the kernel's ephemeral range
/// (net.ipv4.ip_local_port_range, 32768–60999 by default), never from it: a port the kernel hands out for bind(0)
/// and the probe then releases is free again for any outgoing connection's local port in the seconds before the
/// child process binds it — CI saw an edge die with AddressAlreadyInUse that way. Below the range only explicit
/// binds compete, and each port is handed out at most once per test process (assemblies run one at a time).
/// </summary>
internal static class LoopbackPorts
{
    private const int Lowest = 10000;
    private static readonly int s_end = EphemeralRangeStart();
    private static readonly Lock s_gate = new();
    private static int s_next = Random.Shared.Next(Lowest, s_end); // a fresh start per run: earlier runs' TIME_WAITs

    /// <summary>The first of <paramref name="count"/> consecutive ports, all bindable now and never handed out before.</summary>
    public static int Take(int count)
    {
        lock (s_gate)
        {
            for (var tried = 0; tried < s_end - Lowest; tried++)
            {
                if (s_next + count > s_end) s_next = Lowest;
                var candidate = s_next;
                s_next += count;
                if (AllBindable(candidate, count)) return candidate;
            }
        }
        throw new InvalidOperationException($"no {count} free consecutive ports between {Lowest} and {s_end}");
    }

    private static bool AllBindable(int first, int count)
    {
        var probes = new List<Socket>();
        try
        {
            for (var port = first; port < first + count; port++)
            {
                var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probes.Add(probe);
                probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            }
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            probes.ForEach(probe => probe.Dispose());
        }
    }

    private static int EphemeralRangeStart()
    {
        const string RangeFile = "/proc/sys/net/ipv4/ip_local_port_range";
        var start = File.Exists(RangeFile) && int.TryParse(File.ReadAllText(RangeFile).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], out var low)
            ? low : 32768;
        if (start - Lowest < 2000) throw new InvalidOperationException($"{RangeFile} starts at {start}: too few ports below it for the tests' listeners");
        return start;
    }
}
