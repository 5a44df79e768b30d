namespace KeylessOrleans.Wan.Tests.Link;

/// <summary>
/// What a WAN link does to the bytes crossing it, in each direction (symmetric).
/// </summary>
/// <param name="Delay">One-way delay: every chunk is held this long (RTT = 2 × Delay).</param>
/// <param name="Jitter">Extra delay per chunk, uniform in [0, Jitter]. Order is kept, as TCP keeps it: a chunk never
/// overtakes the one before it.</param>
/// <param name="Loss">Probability that a TCP segment (1,448 bytes) is lost. TCP hides loss from the application as
/// delay: the lost segment is retransmitted and everything behind it on that connection waits (head-of-line
/// blocking). So a chunk of n segments is, with probability 1 − (1 − Loss)^n, held an extra <paramref name="RetransmitAfter"/>.</param>
/// <param name="RetransmitAfter">What a loss costs: Linux' minimum retransmission timeout (200 ms) by default, the
/// pessimistic case — a fast retransmit after duplicate ACKs costs about one RTT, a tail loss probe about two.</param>
/// <param name="Blackholed">Nothing crosses while set: bytes already sent wait at the proxy and are delivered when the
/// switch is cleared (TCP would retransmit them); new connections are accepted but not connected onward until then.</param>
public sealed record LinkSettings(
    TimeSpan Delay = default,
    TimeSpan Jitter = default,
    double Loss = 0,
    TimeSpan? RetransmitAfter = null,
    bool Blackholed = false)
{
    public const int SegmentBytes = 1448;

    public TimeSpan Retransmit => RetransmitAfter ?? TimeSpan.FromMilliseconds(200);

    public TimeSpan RoundTrip => 2 * Delay;

    public override string ToString() =>
        $"one-way {Delay.TotalMilliseconds:0.#} ms, jitter {Jitter.TotalMilliseconds:0.#} ms, loss {Loss:P1} (retransmit {Retransmit.TotalMilliseconds:0} ms){(Blackholed ? ", blackholed" : "")}";
}
