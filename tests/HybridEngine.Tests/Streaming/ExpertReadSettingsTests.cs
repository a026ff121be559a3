using HybridEngine.Hardware;
using HybridEngine.Runtime.Streaming;
using Xunit;

namespace HybridEngine.Tests.Streaming;

/// <summary>The expert reader's block size and queue depth, chosen from the profile's direct-I/O points and the slab size.</summary>
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

    [Fact]
    public void BlocksLargerThanASlabGiveWayToTheFastestPointThatFits()
    {
        // 1.7 MB slabs never fill a 4 MiB block: of the points with blocks ≤ 1.7 MB, 256 KiB × 16 is fastest (1.17), and
        // 1 MiB × 4 (1.144) and 256 KiB × 4 (1.14) are within 3 % with fewer reads in flight; 1 MiB × 4 is the faster.
        var s = ExpertReadSettings.Choose(Measured, 4194304, 1, 1_700_000);
        Assert.Equal((1048576, 4), (s.BlockBytes, s.QueueDepth));
        Assert.Equal(1.144, s.GBps, 6);
    }

    [Fact]
    public void TunedSettingsStandWhenTheirBlockFitsInASlab()
    {
        var s = ExpertReadSettings.Choose(Measured, 4194304, 1, 8L << 20);
        Assert.Equal((4194304, 1, 1.15), (s.BlockBytes, s.QueueDepth, s.GBps));
    }

    [Fact]
    public void SlabsSmallerThanEveryMeasuredBlockKeepTheTunedSettings()
    {
        var s = ExpertReadSettings.Choose(Measured, 4194304, 1, 32768);
        Assert.Equal((4194304, 1), (s.BlockBytes, s.QueueDepth));
        Assert.Equal(4194304, ExpertReadSettings.Choose([], 4194304, 2, 1_000_000).BlockBytes);
    }

    [Fact]
    public void AClearlyFasterPointWinsOverFewerReadsInFlight()
    {
        DiskPoint[] points = [new(262144, 1, 0.5), new(262144, 8, 1.0)];
        var s = ExpertReadSettings.Choose(points, 4194304, 1, 1_000_000);
        Assert.Equal((262144, 8), (s.BlockBytes, s.QueueDepth));
    }
}
