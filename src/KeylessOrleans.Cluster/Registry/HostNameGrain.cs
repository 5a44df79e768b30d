using KeylessOrleans.Registry;

namespace KeylessOrleans.Cluster.Registry;

[GrainType(RegistryGrainTypes.HostName)]
// Reads come from storage, not from activations: an activation is needed only while its record changes, so it
// goes soon after (a fleet-wide import would otherwise keep a million of them in the edges' memory).
[CollectionAgeLimit(Minutes = 2)]
internal sealed class HostNameGrain(
    [PersistentState(RegistryGrainTypes.HostNameState, RegistryStorage.Name)] IPersistentState<HostNameState> state,
    RegistryReader reader) : Grain, IHostNameGrain
{
    public async Task<string?> ClaimAsync(string tenant)
    {
        if (state.State.Tenant == tenant) return null;
        if (state.State.Tenant is { } holder && await HolderStillListsAsync(holder)) return holder;
        state.State.Tenant = tenant;
        await state.WriteStateAsync();
        return null;
    }

    public async Task ReleaseAsync(string tenant)
    {
        if (state.State.Tenant != tenant) return;
        await state.ClearStateAsync();
        state.State = new HostNameState();
    }

    /// <summary>
    /// A claim left behind by a tenant change that failed half way (names claimed, tenant not written) does not
    /// block another tenant: only the holder's stored settings decide.
    /// </summary>
    private async Task<bool> HolderStillListsAsync(string holder)
    {
        var record = await reader.TenantAsync(holder);
        var name = this.GetPrimaryKeyString();
        return record?.Settings.HostNames.Any(n => HostNames.Normalize(n) == name) == true;
    }
}
