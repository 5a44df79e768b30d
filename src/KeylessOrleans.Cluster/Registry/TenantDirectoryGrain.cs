namespace KeylessOrleans.Cluster.Registry;

[GrainType(RegistryGrainTypes.TenantDirectory)]
// Reads come from storage, not from activations: an activation is needed only while its record changes, so it
// goes soon after (a fleet-wide import would otherwise keep a million of them in the edges' memory).
[CollectionAgeLimit(Minutes = 2)]
internal sealed class TenantDirectoryGrain(
    [PersistentState(RegistryGrainTypes.DirectoryState, RegistryStorage.Name)] IPersistentState<TenantDirectoryState> state) : Grain, ITenantDirectoryGrain
{
    public async Task AddAsync(string tenant)
    {
        if (state.State.Tenants.Contains(tenant)) return;
        state.State.Tenants.Add(tenant);
        await state.WriteStateAsync();
    }

    public async Task RemoveAsync(string tenant)
    {
        if (state.State.Tenants.Remove(tenant)) await state.WriteStateAsync();
    }
}
