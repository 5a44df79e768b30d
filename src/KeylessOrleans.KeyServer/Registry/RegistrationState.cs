namespace KeylessOrleans.KeyServer.Registry;

/// <summary>
/// Whether edges can reach this replica: in a shared cluster, whether the registry lists it (as
/// <see cref="ReplicaRegistrar"/> last learned it); in the tenant's own cluster, whether the silo is active and its
/// gateway open (<see cref="ServingLifecycle"/>).
/// </summary>
internal sealed class RegistrationState
{
    private volatile Snapshot _current = new(false, "not started yet");

    public bool Registered => _current.Registered;

    /// <summary>Why the replica is not reachable (null when it is).</summary>
    public string? Problem => _current.Problem;

    public void Succeeded() => _current = new(true, null);

    public void Failed(string problem) => _current = new(false, problem);

    private sealed record Snapshot(bool Registered, string? Problem);
}
