using HybridEngine.Hardware;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using Xunit;
using static HybridEngine.Tests.Planning.PlanningModels;

namespace HybridEngine.Tests.Planning;

/// <summary>
/// The disk rate of the planner's speed model: with prefetch the profile's tuned rate, without it the rate of an
/// expert read alone at the point <see cref="ExpertReadRule"/> picks (bandwidth × fill), both bounded by --disk-gbps.
/// </summary>
public sealed class DiskRateModelTests
{
    // Qwen3-30B-A3B shapes, all Q4_K: gate and up 768 rows × 2048 (1152 B a row), down 2048 rows × 768 (432 B a row),
    // 884,736 B each (216 pages of 4 KiB).
    private static readonly ModelInventory Qwen = HeaderOnly(Qwen3_30B_A3B, GgmlType.Q4_K, _ => GgmlType.Q4_K);
    private const long Slab = 884_736;

    private static PlanOptions Streaming(bool prefetch, double? cap = null)
    {
        long room = Qwen.RoutedExpertBytes / 4;
        long budget = Qwen.AlwaysUsedBytes + Qwen.KvCacheBytes(4096) + Qwen.ActivationBytes(4096) + Planner.RuntimeOverheadBytes + Planner.IoBufferBytes + room;
        return new PlanOptions(4096, RamBudget: budget, Prefetch: prefetch, DiskGBps: cap);
    }

    // 1 MiB blocks do not fit in a slab; 256 KiB ones cut each slab into 3 full pieces and a 96 KiB one: 12 pieces,
    // 3 rounds of 4 led by a full piece, fill 3 · 884,736 ÷ (4 · 3 · 262,144) = 0.84375.
    private static readonly PlannerHardware Machine = MiniPc32() with
    {
        DiskPoints = [new DiskPoint(262144, 4, 1.14), new DiskPoint(1048576, 4, 1.144)],
        IoBlockBytes = 1048576,
        IoQueueDepth = 4,
    };

    [Fact]
    public void TheInventoryHasTheSlabsTheFiguresAssume()
    {
        Assert.All(Qwen.MoeLayers.SelectMany(l => l.Experts).SelectMany(u => u.Slabs), s => Assert.Equal(Slab, s.Bytes));
    }

    [Fact]
    public void WithPrefetchTheDiskReadsAtTheTunedRate()
    {
        var p = Planner.Create(Qwen, Machine, Streaming(prefetch: true)).Prediction;
        Assert.True(p.DiskBytesPerToken > 0);
        Assert.Equal(p.DiskBytesPerToken / (Machine.DiskReadGBps * 1e9), p.DiskSeconds, 12);
    }

    [Fact]
    public void WithoutPrefetchTheDiskReadsAtTheRateOfALoneExpert()
    {
        var p = Planner.Create(Qwen, Machine, Streaming(prefetch: false)).Prediction;
        // The picked point's rate × its fill × the share a reader started per expert sustains.
        Assert.Equal(p.DiskBytesPerToken / (1.14 * 0.84375 * Planner.DemandReadShare * 1e9), p.DiskSeconds, 12);
        // Unmeasured points: the tuned 1 MiB × 4 at the profile's rate; one 864 KiB piece per slab, one round: fill 3/4.
        var tunedOnly = Planner.Create(Qwen, MiniPc32(), Streaming(prefetch: false)).Prediction;
        Assert.Equal(tunedOnly.DiskBytesPerToken / (MiniPc32().DiskReadGBps * 0.75 * Planner.DemandReadShare * 1e9), tunedOnly.DiskSeconds, 12);
    }

    [Fact]
    public void ACapBoundsTheDiskRateInEitherMode()
    {
        foreach (bool prefetch in new[] { true, false })
        {
            var capped = Planner.Create(Qwen, Machine, Streaming(prefetch, cap: 0.25)).Prediction;
            Assert.Equal(capped.DiskBytesPerToken / 0.25e9, capped.DiskSeconds, 12);
            // A cap above the disk's rate changes nothing.
            var free = Planner.Create(Qwen, Machine, Streaming(prefetch)).Prediction;
            var loose = Planner.Create(Qwen, Machine, Streaming(prefetch, cap: 50)).Prediction;
            Assert.Equal(free.DiskSeconds, loose.DiskSeconds, 15);
            Assert.True(capped.DecodeTokensPerSecond < free.DecodeTokensPerSecond);
        }
    }

    [Fact]
    public void ANonPositiveCapIsRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => Planner.Create(Qwen, Machine, Streaming(true, cap: 0)));
        Assert.Contains("disk speed cap", ex.Message);
    }
}
