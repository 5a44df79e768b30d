using KeylessOrleans.TestSupport.Load;
using KeylessOrleans.Wan.Tests.Link;

namespace KeylessOrleans.Wan.Tests;

/// <summary>
/// Compares a loaded system under two link settings by alternating them in short slices within one run, so that
/// whatever else the (shared, 2-core) machine is doing weighs on both alike. The first part of every slice is
/// not counted: handshakes that started under the previous setting are still finishing.
/// </summary>
public sealed class Slices(WanLink link, LinkSettings baseline, LinkSettings changed)
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(400);

    public sealed record Result(List<HandshakeSample> Baseline, List<HandshakeSample> Changed, TimeSpan BaselineTime, TimeSpan ChangedTime,
        IReadOnlyList<double> ChangedHoldMs, IReadOnlyList<(bool Changed, TimeSpan From, TimeSpan To)> Windows)
    {
        /// <summary>Values stamped on the run's time line that fall in the baseline (false) or changed (true) slices.</summary>
        public List<double> In<T>(IEnumerable<(TimeSpan At, T Value)> stamped, bool changed, Func<T, double> value) =>
            stamped.Where(s => Windows.Any(w => w.Changed == changed && s.At >= w.From && s.At < w.To)).Select(s => value(s.Value)).ToList();
    }

    /// <summary>Runs <paramref name="rounds"/> × (baseline slice, changed slice) of <paramref name="slice"/> each on <paramref name="load"/>.</summary>
    public async Task<Result> RunAsync(HandshakeLoad load, int rounds, TimeSpan slice)
    {
        var windows = new List<(bool Changed, TimeSpan From, TimeSpan To)>();
        var holds = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var isChanged in new[] { false, true })
            {
                link.Set(isChanged ? changed : baseline);
                await Task.Delay(Settle);
                link.TakeHoldTimes();
                var from = load.Now;
                await Task.Delay(slice);
                windows.Add((isChanged, from, load.Now));
                if (isChanged) holds.AddRange(link.TakeHoldTimes());
            }
        }
        link.Set(baseline);
        var samples = await load.StopAsync();
        List<HandshakeSample> In(bool isChanged) =>
            windows.Where(w => w.Changed == isChanged).SelectMany(w => samples.Where(s => s.StartedAt >= w.From && s.StartedAt + s.Duration <= w.To)).ToList();
        TimeSpan Time(bool isChanged) => windows.Where(w => w.Changed == isChanged).Aggregate(TimeSpan.Zero, (sum, w) => sum + (w.To - w.From));
        return new Result(In(false), In(true), Time(false), Time(true), holds, windows);
    }
}
