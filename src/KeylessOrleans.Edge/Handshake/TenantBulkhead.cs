using System.Collections.Concurrent;

namespace KeylessOrleans.Edge.Handshake;

/// <summary>
/// Per-tenant cap on key calls in flight on this edge. A key call blocks a handshake thread until the key
/// server answers (or the deadline passes), so this cap is also the most handshake threads one tenant can hold:
/// a slow or dead key server costs its own tenant's handshakes, not everyone's.
/// </summary>
internal sealed class TenantBulkhead(int limitPerTenant)
{
    private readonly ConcurrentDictionary<string, Counter> _inFlight = new(StringComparer.Ordinal);

    public int LimitPerTenant => limitPerTenant;

    /// <summary>Takes a slot for <paramref name="tenant"/>; false, at once, when it has none left.</summary>
    public bool TryEnter(string tenant)
    {
        var counter = _inFlight.GetOrAdd(tenant, _ => new Counter());
        if (Interlocked.Increment(ref counter.Value) <= limitPerTenant) return true;
        Interlocked.Decrement(ref counter.Value);
        return false;
    }

    public void Exit(string tenant)
    {
        if (_inFlight.TryGetValue(tenant, out var counter)) Interlocked.Decrement(ref counter.Value);
    }

    /// <summary>Key calls of <paramref name="tenant"/> in flight now.</summary>
    public int InFlight(string tenant) => _inFlight.TryGetValue(tenant, out var counter) ? Volatile.Read(ref counter.Value) : 0;

    /// <summary>One counter per tenant ever seen; tenants are few and named by the operator, so it stays small.</summary>
    private sealed class Counter
    {
        public int Value;
    }
}
