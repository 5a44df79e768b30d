using KeylessOrleans.Registry;

namespace KeylessOrleans.Edge.Routing;

/// <summary>Everything an edge needs to serve one host name: the tenant's keys and chains, origin and policy.</summary>
internal sealed record EdgeRoute(string HostName, HostRoute Keys, TenantSettings Tenant)
{
    public string TenantName => Tenant.Tenant;
}

/// <summary>When one registered certificate for a host name stops being valid.</summary>
internal sealed record CertificateExpiry(string Tenant, string HostName, string KeyId, DateTimeOffset NotAfter);
