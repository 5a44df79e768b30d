using System.Security.Cryptography;
using KeylessOrleans.Edge.Hosting;
using KeylessOrleans.Edge.Tls.Tickets;
using KeylessOrleans.TestSupport;
using Microsoft.Extensions.Options;

namespace KeylessOrleans.Edge.Tests.Tickets;

/// <summary>
/// Sealing and opening TLS 1.2 session tickets with the fleet's keys: only an untouched, unexpired ticket sealed
/// with a key still held opens, and a new key seals only once every edge has had time to fetch it.
/// </summary>
public sealed class SessionTicketKeyRingTests
{
    private static readonly EdgeOptions Settings = new() { Resumption = { Lifetime = TimeSpan.FromHours(1), TicketKeyRefresh = TimeSpan.FromMinutes(1) } };
    private readonly ManualClock _clock = new();
    private readonly SessionTicketKeyRing _ring;
    private readonly SessionTicketKeyRing _otherEdge;

    public SessionTicketKeyRingTests()
    {
        _ring = new SessionTicketKeyRing(Options.Create(Settings), _clock);
        _otherEdge = new SessionTicketKeyRing(Options.Create(Settings), _clock);
    }

    private SessionTicketKey NewKey() => new(RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(32), _clock.GetUtcNow());

    private static SessionTicketContent Session(string name = "www.acme.test") =>
        new(default, 0xC02B, true, RandomNumberGenerator.GetBytes(48), name, RandomNumberGenerator.GetBytes(32), "http/1.1");

    [Fact]
    public void A_ticket_opens_on_another_edge_with_the_same_keys_and_gives_back_the_session()
    {
        var keys = new SessionTicketKeySet([NewKey()]);
        _ring.Use(keys);
        _otherEdge.Use(keys);
        var session = Session();

        var redeemed = _otherEdge.Redeem(_ring.Issue(session)!);

        Assert.NotNull(redeemed);
        Assert.Equal(session.MasterSecret, redeemed.MasterSecret);
        Assert.Equal((session.CipherSuite, session.ExtendedMasterSecret, session.ServerName, session.ApplicationProtocol),
            (redeemed.CipherSuite, redeemed.ExtendedMasterSecret, redeemed.ServerName, redeemed.ApplicationProtocol));
        Assert.Equal(session.LeafSha256, redeemed.LeafSha256);
        Assert.Equal(_clock.GetUtcNow(), redeemed.Issued);
    }

    [Fact]
    public void Nothing_is_issued_before_the_keys_are_known()
    {
        Assert.False(_ring.HasKeys);
        Assert.Null(_ring.Issue(Session()));
        Assert.Null(_ring.Redeem(RandomNumberGenerator.GetBytes(120)));
    }

    [Fact]
    public void A_changed_byte_anywhere_in_a_ticket_makes_it_worthless()
    {
        _ring.Use(new SessionTicketKeySet([NewKey()]));
        var ticket = _ring.Issue(Session())!;

        for (var i = 0; i < ticket.Length; i++)
        {
            var forged = (byte[])ticket.Clone();
            forged[i] ^= 0x01;
            Assert.Null(_ring.Redeem(forged));
        }
        Assert.Null(_ring.Redeem(ticket[..^1]));
        Assert.Null(_ring.Redeem([]));
    }

    [Fact]
    public void A_ticket_expires_with_the_session_lifetime()
    {
        _ring.Use(new SessionTicketKeySet([NewKey()]));
        var ticket = _ring.Issue(Session())!;

        _clock.Advance(Settings.Resumption.Lifetime - TimeSpan.FromSeconds(1));
        Assert.NotNull(_ring.Redeem(ticket));
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(_ring.Redeem(ticket));
    }

    [Fact]
    public void A_ticket_sealed_with_a_key_the_fleet_dropped_does_not_open()
    {
        var old = NewKey();
        _ring.Use(new SessionTicketKeySet([old]));
        var ticket = _ring.Issue(Session())!;

        _ring.Use(new SessionTicketKeySet([NewKey()]));

        Assert.Null(_ring.Redeem(ticket));
    }

    [Fact]
    public void A_new_key_seals_only_once_every_edge_has_had_a_refresh_interval_to_fetch_it()
    {
        var previous = NewKey();
        _clock.Advance(TimeSpan.FromHours(1));
        var fresh = NewKey();
        _ring.Use(new SessionTicketKeySet([fresh, previous]));
        _otherEdge.Use(new SessionTicketKeySet([previous])); // has not fetched the new key yet

        var early = _ring.Issue(Session())!;
        Assert.NotNull(_otherEdge.Redeem(early));

        _clock.Advance(Settings.Resumption.TicketKeyRefresh);
        var later = _ring.Issue(Session())!;
        Assert.Null(_otherEdge.Redeem(later)); // sealed with the new key now
        _otherEdge.Use(new SessionTicketKeySet([fresh, previous]));
        Assert.NotNull(_otherEdge.Redeem(later));
        Assert.NotNull(_otherEdge.Redeem(early));
    }
}
