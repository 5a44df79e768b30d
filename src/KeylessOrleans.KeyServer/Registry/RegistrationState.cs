namespace KeylessOrleans.KeyServer.Registry;

/// <summary>Whether the registry currently lists this replica, as <see cref="ReplicaRegistrar"/> last learned it.</summary>
public sealed class RegistrationState
{
    private volatile Snapshot _current = new(false, "not registered yet");

    public bool Registered => _current.Registered;

    /// <summary>Why the replica is not registered (null when it is).</summary>
    public string? Problem => _current.Problem;

    public void Succeeded() => _current = new(true, null);

    public void Failed(string problem) => _current = new(false, problem);

    private sealed record Snapshot(bool Registered, string? Problem);
}
