namespace KeylessOrleans.Cluster.Registry;

[GrainType(RegistryGrainTypes.TenantDirectory)]
public sealed class TenantDirectoryGrain(
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
