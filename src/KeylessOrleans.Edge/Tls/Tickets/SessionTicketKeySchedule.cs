using System.Security.Cryptography;

namespace KeylessOrleans.Edge.Tls.Tickets;

/// <summary>
/// When the fleet's ticket key is replaced and how long a replaced one is kept: a new key every
/// <paramref name="rotation"/>; a replaced key until <paramref name="retention"/> after its successor's start (edges
/// seal with it until the successor is one refresh interval old, and a ticket lives the session lifetime).
/// </summary>
internal sealed class SessionTicketKeySchedule(TimeSpan rotation, TimeSpan retention)
{
    private List<SessionTicketKey> _keys = [];

    public SessionTicketKeySet KeysAt(DateTimeOffset now)
    {
        if (_keys.Count == 0 || now - _keys[0].Created >= rotation)
            _keys.Insert(0, new SessionTicketKey(RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(32), now));
        _keys = [_keys[0], .. _keys.Skip(1).Where((_, i) => now - _keys[i].Created < retention)];
        return new SessionTicketKeySet([.. _keys]);
    }
}
