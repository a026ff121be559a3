using System.Diagnostics;
using HybridEngine.Runtime.Streaming;
using Xunit;

namespace HybridEngine.Tests.Streaming;

/// <summary>
/// The --disk-gbps pacing: reads of all reader threads together end no faster than the cap allows, an idle spell earns
/// no burst, and a read slower than its slot waits no more. Slots are checked on the returned slot ends; elapsed time
/// only as a lower bound (a sleep never ends early) with a loose upper bound (a loaded machine wakes threads late).
/// </summary>
public sealed class ReadPacingTests
{
    private static long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    [Fact]
    public void ReadersTogetherMoveNoMoreThanTheCap()
    {
        // 4 readers × 10 reads of 100 kB at 10⁷ B/s: 4 MB take at least 0.4 s, whichever thread reads what.
        var pacing = new ReadPacing(1e7);
        var clock = Stopwatch.StartNew();
        var readers = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < 10; i++) pacing.Finish(Stopwatch.GetTimestamp(), 100_000);
        })).ToList();
        readers.ForEach(t => t.Start());
        readers.ForEach(t => t.Join());
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.4, 2.0);
    }

    [Fact]
    public void AnIdleSpellEarnsNoBurst()
    {
        var pacing = new ReadPacing(1e7);
        long first = Stopwatch.GetTimestamp();
        Assert.Equal(first + Ticks(0.01), pacing.Finish(first, 100_000), Ticks(1e-6));
        Thread.Sleep(30);
        // The reads after the pause get 10 ms slots from the first one's start, as if the bucket had never idled.
        long start = Stopwatch.GetTimestamp();
        long end = pacing.Finish(start, 100_000);
        Assert.Equal(start + Ticks(0.01), end, Ticks(1e-6));
        Assert.Equal(end + Ticks(0.01), pacing.Finish(start, 100_000), Ticks(1e-6));
    }

    [Fact]
    public void AReadSlowerThanItsSlotWaitsNoLonger()
    {
        var pacing = new ReadPacing(1e7);
        // The read began 100 ms ago and its slot is 30 ms long: its slot ended long ago, nothing is left to wait.
        long started = Stopwatch.GetTimestamp() - Ticks(0.1);
        long end = pacing.Finish(started, 300_000);
        Assert.Equal(started + Ticks(0.03), end, Ticks(1e-6));
        Assert.True(end < Stopwatch.GetTimestamp());
    }
}
