using KeylessOrleans.Edge.Hosting;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tls.Tickets;

/// <summary>
/// Makes and rotates the fleet's ticket keys (<see cref="SessionTicketKeySchedule"/>). Kept in memory only, never in
/// the cluster's storage: if the silo hosting this grain goes, the grain starts afresh elsewhere with a new key, and
/// tickets sealed with the old ones fall back to full handshakes — a cost, never a failure. Key servers cannot host
/// it (they host only key grains).
/// </summary>
[KeepAlive] // idle collection would start it afresh with a new key, turning every outstanding ticket into a full handshake
internal sealed class SessionTicketKeysGrain(IOptions<EdgeOptions> options, TimeProvider time) : Grain, ISessionTicketKeysGrain
{
    private readonly SessionTicketKeySchedule _schedule = new(
        options.Value.Resumption.TicketKeyRotation, options.Value.Resumption.TicketKeyRefresh + options.Value.Resumption.Lifetime);

    public Task<SessionTicketKeySet> GetKeysAsync() => Task.FromResult(_schedule.KeysAt(time.GetUtcNow()));
}
