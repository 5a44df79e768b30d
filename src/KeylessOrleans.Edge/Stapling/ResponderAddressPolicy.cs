using System.Net;

namespace KeylessOrleans.Edge.Stapling;

/// <summary>
/// Which addresses the edge may contact for OCSP. The responder URL comes from a tenant's certificate, so without
/// this a tenant could point the edge at anything inside the operator's network (cloud metadata at
/// 169.254.169.254, admin endpoints on loopback, internal services): public addresses only, unless the operator
/// lists private networks that host a responder (<see cref="Hosting.EdgeStaplingOptions.ResponderPrivateNetworks"/>).
/// Checked on the addresses actually connected to, after DNS, so a name cannot resolve its way past it.
/// </summary>
internal sealed class ResponderAddressPolicy(IEnumerable<IPNetwork> allowedPrivate)
{
    /// <summary>Not publicly routable: this network, private, shared (CGNAT), loopback, link-local, benchmarking, multicast, reserved; IPv6 alike, and
    /// the IPv6 ranges that embed an IPv4 address.</summary>
    private static readonly IPNetwork[] NotPublic =
    [
        .. new[]
        {
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
            "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
            "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32",
            // NAT64 (RFC 6052) and 6to4 (RFC 3056) carry an IPv4 address inside: 64:ff9b::a00:1 reaches 10.0.0.1
            // through a NAT64 gateway, 2002:a00:1:: through a 6to4 relay, so they could reach private addresses.
            "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16",
        }.Select(IPNetwork.Parse),
    ];

    private readonly IPNetwork[] _allowedPrivate = [.. allowedPrivate];

    public bool Allows(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4(); // ::ffff:127.0.0.1 is loopback too
        if (_allowedPrivate.Any(network => network.Contains(address))) return true;
        return !NotPublic.Any(network => network.Contains(address));
    }
}

/// <summary>Every address of an OCSP responder is one the edge must not contact.</summary>
internal sealed class ResponderAddressRefusedException(string host, IReadOnlyList<IPAddress> addresses)
    : IOException($"the responder {host} is at {string.Join(", ", addresses)}, not a public address (allow a private network with Keyless:Edge:Stapling:ResponderPrivateNetworks)");
