namespace KeylessOrleans.KeyServer.Registry;

/// <summary>
/// In the tenant's own cluster nothing registers the replica: edges find it at its gateway. It is serving once the
/// silo is active (joined, gateway open) and stops serving as the silo begins to stop, so readiness drops before the
/// gateway closes.
/// </summary>
internal sealed class ServingLifecycle(RegistrationState state) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ServingLifecycle), ServiceLifecycleStage.Active,
            _ =>
            {
                state.Succeeded();
                return Task.CompletedTask;
            },
            _ =>
            {
                state.Failed("stopping");
                return Task.CompletedTask;
            });
}
