using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KeylessOrleans.Keys;
using KeylessOrleans.Registry;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>What the registry refuses to store, before any grain or storage is touched.</summary>
internal static class RegistryRules
{
    /// <summary>Host names one tenant may be given.</summary>
    public const int MaxHostNamesPerTenant = 1000;

    public static string? Problem(TenantSettings settings)
    {
        if (!KeyGrainKey.IsValidName(settings.Tenant)) return "tenant name is not valid";
        if (settings.HostNames.Count == 0) return "a tenant needs at least one host name";
        if (settings.HostNames.Count > MaxHostNamesPerTenant) return $"a tenant may have at most {MaxHostNamesPerTenant} host names";
        if (settings.HostNames.Any(h => !IsHostPattern(h))) return "host names must be DNS names or *.wildcards";
        if (settings.HostNames.Select(HostNames.Normalize).Distinct().Count() != settings.HostNames.Count) return "host names must differ";
        if (string.IsNullOrWhiteSpace(settings.Origin.Host)) return "origin host is empty";
        if (settings.Origin.Port is < 1 or > 65535) return $"origin port {settings.Origin.Port} is out of range";
        foreach (var server in settings.KeyServers ?? [])
        {
            if (!KeyGrainKey.IsValidName(server.Replica)) return $"key-server replica name '{server.Replica}' is not valid";
            if (!IsHostAndPort(server.Gateway)) return $"key-server gateway '{server.Gateway}' of replica {server.Replica} is not host:port";
        }
        if ((settings.KeyServers ?? []).Select(k => k.Replica).Distinct().Count() != (settings.KeyServers?.Count ?? 0))
            return "key-server replica names must differ";
        if (settings.KeyServerCa is { Length: > 0 } ca)
        {
            try
            {
                using var certificate = X509Certificate2.CreateFromPem(ca);
            }
            catch (CryptographicException)
            {
                return "the key-server CA is not a PEM certificate";
            }
        }
        return null;
    }

    public static string? Problem(ReplicaRegistration r)
    {
        if (!KeyGrainKey.IsValidName(r.Tenant)) return "tenant name is not valid";
        if (!KeyGrainKey.IsValidName(r.Replica)) return "replica name is not valid";
        foreach (var chain in r.Chains)
        {
            if (!KeyIds.IsWellFormed(chain.KeyId)) return $"key id '{chain.KeyId}' is not a SHA-256 hex digest";
            if (chain.ChainDer.Count == 0) return $"key {chain.KeyId} has an empty certificate chain";
        }
        return null;
    }

    /// <summary>A replica may only announce certificates for names the operator gave its tenant.</summary>
    public static string? OutsideTenant(TenantSettings tenant, ReplicaRegistration registration)
    {
        foreach (var chain in registration.Chains)
        {
            var outside = chain.HostNames.FirstOrDefault(name => !tenant.HostNames.Any(pattern => HostNames.Covers(pattern, name)));
            if (outside is not null)
                return $"the certificate of key {chain.KeyId[..16]}… covers {outside}, which tenant {registration.Tenant} was not given (allowed: {string.Join(", ", tenant.HostNames)})";
        }
        return null;
    }

    /// <summary>A DNS name or "*." and a DNS name, at most 253 characters; the registry's keys are built from these.</summary>
    private static bool IsHostPattern(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 253) return false;
        var host = name.StartsWith("*.", StringComparison.Ordinal) ? name[2..] : name;
        return host.Length > 0 && !host.Contains('*') && Uri.CheckHostName(host.TrimEnd('.')) != UriHostNameType.Unknown;
    }

    private static bool IsHostAndPort(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], out var port) || port is < 1 or > 65535) return false;
        return Uri.CheckHostName(value[..colon].Trim('[', ']')) != UriHostNameType.Unknown;
    }
}
