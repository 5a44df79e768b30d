using System.Text;
using KeylessOrleans.Edge.Routing;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;
using Org.BouncyCastle.Tls;

namespace KeylessOrleans.Edge.Tls;

/// <summary>
/// SNI decides the tenant. BouncyCastle has parsed the client's server names and never rejects one itself: a name
/// too long or with control characters (<see cref="ServerNames"/>), an unknown name, or none without a default host
/// ends here with unrecognized_name (112); a registry that cannot answer, or a tenant without a registered key
/// server, with internal_error. The name and the route go into the handshake's facts before any refusal, for the
/// failed-handshake log and the metrics' tenant.
/// </summary>
internal static class ServerNameRoute
{
    public static EdgeRoute Resolve(IList<ServerName>? clientNames, TlsServerContext shared, HandshakeFacts facts)
    {
        var sni = HostName(clientNames);
        var requested = sni is null ? null : Encoding.ASCII.GetString(sni);
        if (sni is { Length: > ServerNames.MaxLength })
        {
            facts.ServerName = ServerNames.ForLog(requested!);
            throw new TlsFatalAlert(AlertDescription.unrecognized_name, $"the server name is longer than {ServerNames.MaxLength} bytes");
        }
        if (requested is not null && ServerNames.HasControlCharacters(requested))
        {
            facts.ServerName = ServerNames.ForLog(requested);
            throw new TlsFatalAlert(AlertDescription.unrecognized_name, "the server name holds control characters");
        }
        var hostName = requested ?? shared.DefaultHostName;
        facts.ServerName = hostName is null ? null : HostNames.Normalize(hostName);
        EdgeRoute? route;
        try
        {
            route = hostName is null ? null : shared.Routes.Resolve(hostName);
        }
        catch (RegistryUnavailableException e)
        {
            facts.KeyFailure = KeyOperationStatus.Unavailable;
            facts.KeyFailureDetail = e.Message;
            throw new TlsFatalAlert(AlertDescription.internal_error, e.Message);
        }
        if (route is null)
            throw new TlsFatalAlert(AlertDescription.unrecognized_name, requested is null ? "no SNI and no default host" : "no tenant serves this name");
        facts.Route = route;
        if (route.Keys.Keys.Count == 0)
        {
            facts.KeyFailure = KeyOperationStatus.Unavailable;
            facts.KeyFailureDetail = $"no key server of tenant {route.TenantName} is registered";
            throw new TlsFatalAlert(AlertDescription.internal_error, facts.KeyFailureDetail);
        }
        return route;
    }

    /// <summary>The first host_name entry's bytes; null when the client sent none.</summary>
    private static byte[]? HostName(IList<ServerName>? clientNames)
    {
        if (clientNames is null) return null;
        for (var i = 0; i < clientNames.Count; i++)
        {
            if (clientNames[i].NameType == NameType.host_name) return clientNames[i].NameData;
        }
        return null;
    }
}
