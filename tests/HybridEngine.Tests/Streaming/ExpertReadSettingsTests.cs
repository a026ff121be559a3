using HybridEngine.Hardware;
using HybridEngine.Planning;
using HybridEngine.Runtime.Streaming;
using Xunit;

namespace HybridEngine.Tests.Streaming;

/// <summary>
/// The expert reader's block size and queue depth, chosen from the profile's direct-I/O points and the experts' slabs
/// (<see cref="ExpertReadRule"/>): with prefetch the fastest point whose block fits, without it the point at which an
/// expert read alone is fastest (bandwidth × fill).
/// </summary>
public sealed class ExpertReadSettingsTests
{
    // The points this project's development machine measured (GB/s), block × queue depth.
    private static readonly DiskPoint[] Measured =
    [
        new(65536, 1, 0.67), new(65536, 4, 0.96), new(65536, 16, 0.99),
        new(262144, 1, 1.01), new(262144, 4, 1.14), new(262144, 16, 1.17),
        new(1048576, 1, 0.89), new(1048576, 4, 1.144), new(1048576, 16, 0.97),
        new(4194304, 1, 1.15), new(4194304, 4, 1.01), new(4194304, 16, 1.02),
    ];

    // An expert with slabs the size of v2lite's: gate and up 1,622,016 B (396 pages of 4 KiB), down 1,982,464 B (484 pages).
    private const long GateUp = 1_622_016, Down = 1_982_464, Expert = 2 * GateUp + Down;
    private static readonly IReadOnlyList<long>[] V2Lite = [new[] { GateUp, GateUp, Down }];

    [Fact]
    public void FillIsTheExpertsBytesOverQueueDepthTimesItsRoundsLongestPieces()
    {
        // 1 MiB × 4: pieces 1 MiB, 560 KiB | 1 MiB, 560 KiB | 1 MiB, 912 KiB → rounds [1M .56M 1M .56M] [1M .91M], 2 × 1 MiB.
        Assert.Equal(Expert / (4.0 * 2 * 1048576), ExpertReadRule.Fill(V2Lite, 1048576, 4), 12);
        // 256 KiB × 4: 7 + 7 + 8 = 22 pieces in 6 rounds, each holding a full 256 KiB piece.
        Assert.Equal(Expert / (4.0 * 6 * 262144), ExpertReadRule.Fill(V2Lite, 262144, 4), 12);
        // 64 KiB × 4: 25 + 25 + 31 = 81 pieces: 20 rounds with a full piece, then the 16 KiB tail of down alone.
        Assert.Equal(Expert / (4.0 * (20 * 65536 + 16384)), ExpertReadRule.Fill(V2Lite, 65536, 4), 12);
        // One reader never waits for another: depth 1 fills whatever the pieces.
        Assert.Equal(1, ExpertReadRule.Fill(V2Lite, 1048576, 1), 12);
        // Three 148 KiB slabs (the small synthetic model) in 1 MiB blocks: one round of 3 pieces for 4 readers.
        Assert.Equal(0.75, ExpertReadRule.Fill([new long[] { 151552, 151552, 151552 }], 1048576, 4), 12);
    }

    [Fact]
    public void WithoutPrefetchSmallerBlocksKeepTheReadersOfALoneExpertBusy()
    {
        var big = ExpertReadSettings.Choose([new(1048576, 4, 1.144)], 4194304, 1, V2Lite, prefetch: false);
        var small = ExpertReadSettings.Choose([new(262144, 4, 1.14)], 4194304, 1, V2Lite, prefetch: false);
        // 1.144 × 0.62 = 0.71 GB/s against 1.14 × 0.83 = 0.95 GB/s.
        Assert.True(small.GBps * small.Fill > big.GBps * big.Fill + 0.2, $"{small} vs {big}");

        // Of the depth-4 points: 64 KiB × 4 (0.96 × 0.985 = 0.945) is within 3 % of 256 KiB × 4 (0.947), same depth: the faster.
        var depth4 = ExpertReadSettings.Choose(Measured.Where(p => p.QueueDepth == 4).ToList(), 4194304, 1, V2Lite, prefetch: false);
        Assert.Equal((262144, 4), (depth4.BlockBytes, depth4.QueueDepth));

        // Of all points: 256 KiB × 1 reads a lone expert at its full 1.01 GB/s, more than 3 % above any deeper point.
        var all = ExpertReadSettings.Choose(Measured, 4194304, 1, V2Lite, prefetch: false);
        Assert.Equal((262144, 1, 1.01, 1.0), (all.BlockBytes, all.QueueDepth, all.GBps, all.Fill));
    }

    [Fact]
    public void WithPrefetchBlocksLargerThanASlabGiveWayToTheFastestPointThatFits()
    {
        // 1.98 MB slabs never fill a 4 MiB block: of the points with smaller blocks, 256 KiB × 16 is fastest (1.17), and
        // 1 MiB × 4 (1.144) and 256 KiB × 4 (1.14) are within 3 % with fewer reads in flight; 1 MiB × 4 is the faster.
        var s = ExpertReadSettings.Choose(Measured, 4194304, 1, V2Lite);
        Assert.Equal((1048576, 4), (s.BlockBytes, s.QueueDepth));
        Assert.Equal(1.144, s.GBps, 6);
    }

    [Fact]
    public void WithPrefetchTunedSettingsStandWhenTheirBlockFitsInASlab()
    {
        var s = ExpertReadSettings.Choose(Measured, 4194304, 1, [new long[] { 8L << 20, 8L << 20 }]);
        Assert.Equal((4194304, 1, 1.15), (s.BlockBytes, s.QueueDepth, s.GBps));
    }

    [Fact]
    public void SlabsSmallerThanEveryMeasuredBlockKeepTheTunedSettings()
    {
        foreach (bool prefetch in new[] { true, false })
        {
            var s = ExpertReadSettings.Choose(Measured, 4194304, 1, [new long[] { 32768 }], prefetch);
            Assert.Equal((4194304, 1), (s.BlockBytes, s.QueueDepth));
            Assert.Equal(4194304, ExpertReadSettings.Choose([], 4194304, 2, [new long[] { 1_000_000 }], prefetch).BlockBytes);
        }
    }

    [Fact]
    public void AClearlyFasterPointWinsOverFewerReadsInFlight()
    {
        DiskPoint[] points = [new(262144, 1, 0.5), new(262144, 8, 1.0)];
        var s = ExpertReadSettings.Choose(points, 4194304, 1, [new long[] { 1_000_000 }]);
        Assert.Equal((262144, 8), (s.BlockBytes, s.QueueDepth));
    }

    [Fact]
    public void ACapBoundsEveryPointBeforeTheChoice()
    {
        // At 0.5 GB/s a lone expert moves at the cap at every point but 1 MiB × 16 (0.97 × 0.31): the fewest reads in flight win.
        var s = ExpertReadRule.Choose(Measured, 4194304, 1, V2Lite, demand: true, capGBps: 0.5);
        Assert.Equal((1, 0.5), (s.QueueDepth, s.DemandGBps));
        // The pacing is one budget for all readers: a lone expert's fill no longer matters below the cap.
        var deep = ExpertReadRule.Choose([new(262144, 4, 1.14)], 4194304, 1, V2Lite, demand: true, capGBps: 0.5);
        Assert.Equal((0.5, 0.5), (deep.DemandGBps, deep.FullGBps));
        Assert.Equal(1.14 * deep.Fill, ExpertReadRule.Choose([new(262144, 4, 1.14)], 4194304, 1, V2Lite, demand: true).DemandGBps, 12);
    }
}
