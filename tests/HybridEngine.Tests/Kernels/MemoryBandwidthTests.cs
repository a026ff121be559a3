using HybridEngine.Tuner;
using Xunit;

namespace HybridEngine.Tests.Kernels;

public class MemoryBandwidthTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SmallBufferGivesAPlausibleFigure(int threads)
    {
        // 32 MiB fits in some caches, so this checks plausibility (any real machine streams 0.5..2000 GB/s), not the figure.
        double gbPerSecond = MemoryBandwidth.MeasureRead(threads, 32L << 20, TimeSpan.FromMilliseconds(200));
        Assert.InRange(gbPerSecond, 0.5, 2000);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryBandwidth.MeasureRead(0, 1 << 20, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryBandwidth.MeasureRead(4, 4096, TimeSpan.Zero));
    }
}
