using System.Net;
using System.Net.Sockets;

namespace KeylessOrleans.Cluster.Hosting;

/// <summary>
/// Free loopback ports for processes started by this one (the demo's edge and key server, the tests' clusters).
/// They come from below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768–60999 by default), not
/// from bind(0): a port the kernel hands out for bind(0) and the probe then releases is free again for any outgoing
/// connection's local port in the seconds before the child process binds it, and the child then fails with
/// AddressAlreadyInUse. Below the range only explicit binds compete, and each port is handed out at most once per
/// process.
/// </summary>
internal static class LoopbackPorts
{
    private const int Lowest = 10000;
    private const string RangeFile = "/proc/sys/net/ipv4/ip_local_port_range";
    private static readonly int s_end = EphemeralRangeStart();
    private static readonly Lock s_gate = new();
    private static int s_next = Random.Shared.Next(Lowest, Math.Max(Lowest + 1, s_end)); // a fresh start per run: earlier runs' TIME_WAITs

    /// <summary>A port nothing listens on now, never handed out before by this process.</summary>
    public static int Take() => Take(1);

    /// <summary>The first of <paramref name="count"/> consecutive such ports.</summary>
    public static int Take(int count)
    {
        if (s_end - Lowest < 1000)
        {
            // An unusual ephemeral range leaves no room below it: the kernel's choice, race and all.
            if (count == 1) return KernelChosen();
            throw new InvalidOperationException($"{RangeFile} starts at {s_end}: too few ports below it for {count} consecutive ones");
        }
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

    private static int KernelChosen()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static int EphemeralRangeStart()
    {
        try
        {
            var first = File.ReadAllText(RangeFile).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0];
            return int.Parse(first);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768; // not Linux, or no /proc: the IANA dynamic range starts at 49152, Linux's default at 32768
        }
    }
}
