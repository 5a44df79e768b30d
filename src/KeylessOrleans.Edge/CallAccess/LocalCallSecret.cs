using System.Security.Cryptography;

namespace KeylessOrleans.Edge.CallAccess;

/// <summary>
/// A random secret made when the process starts and never sent anywhere but with this process's own calls to its
/// own silo: a call that carries it comes from this process (<see cref="KeylessOrleans.Cluster.Callers.LocalProcess"/>).
/// The edge's authorization filter takes it out of the request context before the grain runs, so it is never
/// forwarded.
/// </summary>
internal sealed class LocalCallSecret
{
    public const string ContextKey = "keyless.local-call";

    private readonly byte[] _secret = RandomNumberGenerator.GetBytes(32);

    /// <summary>Runs <paramref name="call"/> with the secret in its request context, and takes it out again.</summary>
    public T Call<T>(Func<T> call)
    {
        RequestContext.Set(ContextKey, _secret);
        try
        {
            return call();
        }
        finally
        {
            RequestContext.Remove(ContextKey);
        }
    }

    public bool Matches(object? presented) => presented is byte[] bytes && CryptographicOperations.FixedTimeEquals(bytes, _secret);
}
