using System.Net;
using KeylessOrleans.TestSupport;

namespace KeylessOrleans.Wan.Tests.Network;

/// <summary>
/// Two sites and the internet between them, as three network namespaces this run creates and deletes:
/// <code>
///  edges site (Redis, edges)          wan (the delay proxy)                   tenant site (on-prem key server)
///  to-wan 10.77.1.1/24 ── veth ── to-edges 10.77.1.254   to-onprem 10.77.2.254 ── veth ── to-wan 10.77.2.2/24
///  lo 10.77.9.1 (advertised)        lo 10.77.9.1, 10.77.8.2 (proxy listeners)
/// </code>
/// The wan namespace does not forward packets, so the proxy is the only way between the sites. Each side reaches
/// the other at the address the other advertises: edges and Redis are at <see cref="EdgeSite"/> (local in the edges
/// namespace, so edge-to-edge and edge-to-Redis traffic stays on the site; in the tenant site it routes to the wan
/// namespace, where the proxy listens on the same address), the key server at <see cref="OnPremAdvertised"/> (a
/// proxy address; the key server listens on <see cref="OnPremHost"/>). No bridge: one would give the sites a way
/// around the proxy. Nothing is ever created in the test's own namespace.
/// </summary>
public sealed class WanTopology : IDisposable
{
    /// <summary>Every namespace of this harness starts so; a run's own also carry its process id.</summary>
    public const string Prefix = "kowan-";

    public static readonly IPAddress EdgeSite = IPAddress.Parse("10.77.9.1");
    public static readonly IPAddress EdgeLan = IPAddress.Parse("10.77.1.1");
    public static readonly IPAddress OnPremAdvertised = IPAddress.Parse("10.77.8.2");
    public static readonly IPAddress OnPremHost = IPAddress.Parse("10.77.2.2");

    private WanTopology(NetworkNamespace edges, NetworkNamespace wan, NetworkNamespace onPrem) => (Edges, Wan, OnPrem) = (edges, wan, onPrem);

    public NetworkNamespace Edges { get; }
    public NetworkNamespace Wan { get; }
    public NetworkNamespace OnPrem { get; }

    public static async Task<WanTopology> CreateAsync()
    {
        RemoveLeftovers();
        var run = $"{Prefix}{Environment.ProcessId}-";
        var created = new List<NetworkNamespace>();
        try
        {
            foreach (var site in new[] { "edges", "wan", "onprem" }) created.Add(await NetworkNamespace.CreateAsync(run + site));
            var (edges, wan, onPrem) = (created[0], created[1], created[2]);
            await edges.RunIpAsync("link", "add", "to-wan", "type", "veth", "peer", "name", "to-edges", "netns", wan.Name);
            await onPrem.RunIpAsync("link", "add", "to-wan", "type", "veth", "peer", "name", "to-onprem", "netns", wan.Name);
            await AddressAsync(edges, "to-wan", "10.77.1.1/24");
            await AddressAsync(wan, "to-edges", "10.77.1.254/24");
            await AddressAsync(wan, "to-onprem", "10.77.2.254/24");
            await AddressAsync(onPrem, "to-wan", "10.77.2.2/24");
            await edges.RunIpAsync("addr", "add", $"{EdgeSite}/32", "dev", "lo");
            await wan.RunIpAsync("addr", "add", $"{EdgeSite}/32", "dev", "lo");
            await wan.RunIpAsync("addr", "add", $"{OnPremAdvertised}/32", "dev", "lo");
            await edges.RunIpAsync("route", "add", "default", "via", "10.77.1.254");
            await onPrem.RunIpAsync("route", "add", "default", "via", "10.77.2.254");
            // The proxy must be the only path: no routing through the wan namespace (a new namespace starts with
            // forwarding off, but say so rather than rely on it).
            var forwarding = await wan.RunAsync("sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward");
            if (forwarding.ExitCode != 0) throw new InvalidOperationException($"could not turn forwarding off in {wan.Name}: {forwarding.All}");
            return new WanTopology(edges, wan, onPrem);
        }
        catch
        {
            created.ForEach(n => n.Dispose());
            throw;
        }
    }

    private static async Task AddressAsync(NetworkNamespace ns, string device, string address)
    {
        await ns.RunIpAsync("addr", "add", address, "dev", device);
        await ns.RunIpAsync("link", "set", device, "up");
    }

    /// <summary>Cuts the tenant site off: its link is taken down at the wan side (the tenant's interface loses carrier; packets vanish).</summary>
    public Task PartitionAsync() => Wan.RunIpAsync("link", "set", "to-onprem", "down");

    public Task HealAsync() => Wan.RunIpAsync("link", "set", "to-onprem", "up");

    /// <summary>
    /// Namespaces of an earlier run of this harness whose test process is gone (it crashed or was killed before it
    /// could clean up): the processes it started in them (Redis, silos) are killed by PID, then the namespaces are
    /// deleted with their interfaces.
    /// </summary>
    public static void RemoveLeftovers()
    {
        foreach (var name in NetworkNamespace.Existing().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            var owner = name[Prefix.Length..].Split('-')[0];
            if (int.TryParse(owner, out var pid) && KeylessProcess.IsRunning(pid)) continue; // a live run's, maybe our own
            foreach (var orphan in NetworkNamespace.Pids(name)) KeylessProcess.Kill(orphan);
            NetworkNamespace.Delete(name);
        }
    }

    public void Dispose()
    {
        OnPrem.Dispose();
        Wan.Dispose();
        Edges.Dispose();
    }
}
