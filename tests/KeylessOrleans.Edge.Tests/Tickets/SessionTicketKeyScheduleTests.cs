using KeylessOrleans.Edge.Tls.Tickets;

namespace KeylessOrleans.Edge.Tests.Tickets;

/// <summary>The fleet's ticket keys: replaced every rotation, a replaced key kept as long as tickets it sealed live.</summary>
public sealed class SessionTicketKeyScheduleTests
{
    private static readonly TimeSpan Rotation = TimeSpan.FromHours(1);
    private static readonly TimeSpan Retention = TimeSpan.FromMinutes(61);
    private readonly DateTimeOffset _start = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_key_is_replaced_each_rotation_and_its_predecessor_kept_for_the_retention_after_that()
    {
        var schedule = new SessionTicketKeySchedule(Rotation, Retention);

        var first = schedule.KeysAt(_start).Keys.Single();
        Assert.Same(first, schedule.KeysAt(_start + Rotation - TimeSpan.FromSeconds(1)).Keys.Single());

        var rotated = schedule.KeysAt(_start + Rotation).Keys;
        Assert.Equal(2, rotated.Count);
        Assert.Same(first, rotated[1]);
        Assert.NotEqual(first.Secret, rotated[0].Secret);
        Assert.NotEqual(first.Name, rotated[0].Name);

        // Rotations continue; the first key goes once its successor is older than the retention.
        var later = schedule.KeysAt(_start + Rotation + Retention).Keys;
        Assert.DoesNotContain(first, later);
        Assert.Equal(2, later.Count);
        Assert.Same(rotated[0], later[1]);
    }
}
