using System.Collections.Concurrent;
using System.Net;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// Open connections per client address, so one address cannot take the whole of
/// <see cref="Hosting.EdgeLimitsOptions.MaxConnections"/>. An address's entry is removed when its last connection
/// closes: memory follows the addresses connected now, not every address ever seen.
/// </summary>
internal sealed class ClientAddressLimiter(int limit)
{
    private readonly ConcurrentDictionary<IPAddress, int> _open = new();

    /// <summary>Addresses with at least one open connection.</summary>
    public int Addresses => _open.Count;

    /// <summary>Counts a new connection from <paramref name="address"/>; false (counting nothing) when it is at its limit.</summary>
    public bool TryAcquire(IPAddress address)
    {
        address = Normalize(address);
        while (true)
        {
            if (_open.TryGetValue(address, out var count))
            {
                if (count >= limit) return false;
                if (_open.TryUpdate(address, count + 1, count)) return true;
            }
            else if (_open.TryAdd(address, 1))
            {
                return true;
            }
            // Another connection from this address changed the count in between: read it again.
        }
    }

    /// <summary>Forgets one connection counted by <see cref="TryAcquire"/>.</summary>
    public void Release(IPAddress address)
    {
        address = Normalize(address);
        while (_open.TryGetValue(address, out var count))
        {
            // Removing only while the count is still 1 keeps a concurrent TryAcquire from being lost: its update
            // fails against the removed entry and it adds a fresh one.
            if (count <= 1 ? _open.TryRemove(KeyValuePair.Create(address, count)) : _open.TryUpdate(address, count - 1, count))
                return;
        }
    }

    /// <summary>A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; count them as the IPv4 address they are.</summary>
    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
