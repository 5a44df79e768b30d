using KeylessOrleans.Registry;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace KeylessOrleans.Cluster.Registry;

/// <summary>
/// Reads the registry's stored records directly from its grain storage, activating no grain: lookups then depend on
/// the storage alone (Redis, or the registry folder), not on which silo happens to hold a tenant's activation — a
/// crashed silo that membership has not yet declared dead cannot stall them. Writes go through the grains, which
/// store each change before answering, so a read after a write sees it.
/// </summary>
internal sealed class RegistryReader([FromKeyedServices(RegistryStorage.Name)] IGrainStorage storage) : IRegistrySource
{
    public async Task<TenantRecord?> TenantAsync(string tenant)
    {
        var state = await ReadAsync<TenantState>(RegistryGrainTypes.Tenant, tenant, RegistryGrainTypes.TenantState);
        return state?.Record();
    }

    public async Task<string?> HostNameHolderAsync(string name)
    {
        var state = await ReadAsync<HostNameState>(RegistryGrainTypes.HostName, name, RegistryGrainTypes.HostNameState);
        return state?.Tenant;
    }

    /// <summary>Every tenant name, in ordinal order (operator listings; reads every directory shard).</summary>
    public async Task<List<string>> TenantNamesAsync()
    {
        var names = new List<string>();
        foreach (var batch in Enumerable.Range(0, RegistryGrainTypes.DirectoryShards).Chunk(64))
        {
            var shards = await Task.WhenAll(batch.Select(shard =>
                ReadAsync<TenantDirectoryState>(RegistryGrainTypes.TenantDirectory, shard.ToString(System.Globalization.CultureInfo.InvariantCulture), RegistryGrainTypes.DirectoryState)));
            foreach (var shard in shards) names.AddRange(shard?.Tenants ?? []);
        }
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    private async Task<T?> ReadAsync<T>(string grainType, string key, string stateName) where T : class, new()
    {
        var state = new GrainState<T>(new T());
        await storage.ReadStateAsync(stateName, GrainId.Create(grainType, key), state);
        return state.RecordExists ? state.State : null;
    }
}

/// <summary>Where an edge looks up names and tenants it has not cached.</summary>
internal interface IRegistrySource
{
    /// <summary>The tenant's record, or null when the operator has not added it.</summary>
    Task<TenantRecord?> TenantAsync(string tenant);

    /// <summary>The tenant holding a normalized host name or "*.suffix", or null.</summary>
    Task<string?> HostNameHolderAsync(string name);
}

/// <summary>How a host name is served: its exact record first, then the wildcard one label up (RFC 6125 §6.4.3).</summary>
internal static class HostNameLookup
{
    /// <summary>The names to look up for <paramref name="host"/> (normalized), most specific first.</summary>
    public static IEnumerable<string> Keys(string host)
    {
        yield return host;
        var dot = host.IndexOf('.');
        if (dot > 0 && dot < host.Length - 1 && !host.StartsWith("*.", StringComparison.Ordinal)) yield return "*" + host[dot..];
    }

    /// <summary>
    /// The tenant that serves <paramref name="host"/> and the name that matched, or null. A holder counts only when
    /// its stored settings list the name, so a claim left by an interrupted change routes nothing.
    /// </summary>
    public static async Task<(TenantRecord Tenant, string Matched)?> ResolveAsync(IRegistrySource source, string host)
    {
        host = HostNames.Normalize(host);
        foreach (var key in Keys(host))
        {
            if (await source.HostNameHolderAsync(key) is not { } holder) continue;
            if (await source.TenantAsync(holder) is { } record && record.Settings.HostNames.Any(n => HostNames.Normalize(n) == key))
                return (record, key);
        }
        return null;
    }
}
