using HybridEngine.Planning;
using HybridEngine.Quantization;
using Xunit;
using static HybridEngine.Tests.Planning.PlanningModels;

namespace HybridEngine.Tests.Planning;

/// <summary>
/// The parts of the planner's decode-speed model: compute = weight bytes ÷ rate + KV reads + layers × fixed overhead;
/// disk = missed bytes ÷ disk rate; tokens/s = 1 / (compute + disk − overlap), the overlap being a measured share of
/// the disk time that never exceeds the compute time.
/// </summary>
public sealed class DecodeSpeedModelTests
{
    private static readonly ModelInventory Qwen = HeaderOnly(Qwen3_30B_A3B, GgmlType.Q4_K);

    [Fact]
    public void OverlapIsTheMeasuredShareOfTheDiskTimeCappedByCompute()
    {
        Assert.Equal(Planner.PrefetchOverlapShare * 0.2, Planner.OverlapSeconds(1.0, 0.2, prefetch: true), 12);
        Assert.Equal(Planner.DemandOverlapShare * 0.2, Planner.OverlapSeconds(1.0, 0.2, prefetch: false), 12);
        Assert.Equal(0.01, Planner.OverlapSeconds(0.01, 0.2, prefetch: true), 12); // cannot hide more than the compute lasts
        Assert.Equal(0, Planner.OverlapSeconds(0.05, 0, prefetch: true));
        Assert.True(Planner.PrefetchOverlapShare > Planner.DemandOverlapShare, "reading guesses ahead must hide more than demand reads alone");
    }

    [Fact]
    public void EveryLayerAddsTheFixedOverheadToCompute()
    {
        var options = new PlanOptions(4096);
        var none = Planner.Create(Qwen, MiniPc32() with { LayerOverheadSeconds = 0 }, options).Prediction;
        var some = Planner.Create(Qwen, MiniPc32() with { LayerOverheadSeconds = 1e-3 }, options).Prediction;
        Assert.Equal(Qwen.HyperParameters.Layers * 1e-3, some.ComputeSeconds - none.ComputeSeconds, 9);
        // Resident: nothing streams, so tokens/s is 1 / compute.
        Assert.Equal(0, some.DiskSeconds);
        Assert.Equal(1 / some.ComputeSeconds, some.DecodeTokensPerSecond, 9);
    }

    [Fact]
    public void ResidentComputeIsTheActiveBytesAtTheMemoryRate()
    {
        // MiniPc32 measured no matvec rate, so every weight reads at its 40 GB/s memory bandwidth. Per token: every
        // always-used weight but the (untied) embedding table, expertsUsed experts per MoE layer, half the KV cache.
        var hw = MiniPc32() with { LayerOverheadSeconds = 0 };
        var p = Planner.Create(Qwen, hw, new PlanOptions(4096)).Prediction;
        var hp = Qwen.HyperParameters;
        long always = Qwen.Tensors.Where(t => t.Class is not (HybridEngine.Models.TensorClass.RoutedExperts or HybridEngine.Models.TensorClass.Embeddings)).Sum(t => t.Bytes);
        double experts = Qwen.MoeLayers.Sum(l => (double)l.ExpertBytes * hp.ExpertsUsed);
        double embeddingRow = Qwen.Tensors.Where(t => t.Class == HybridEngine.Models.TensorClass.Embeddings).Sum(t => t.Bytes) / (double)hp.Vocab;
        double expected = (always + experts + embeddingRow + Qwen.KvCacheBytes(4096) / 2.0) / 40e9;
        Assert.Equal(expected, p.ComputeSeconds, 6);
    }

    [Fact]
    public void StreamingTokenTimeIsComputePlusDiskMinusOverlap()
    {
        long room = Qwen.RoutedExpertBytes / 4;
        long budget = Qwen.AlwaysUsedBytes + Qwen.KvCacheBytes(4096) + Qwen.ActivationBytes(4096) + Planner.RuntimeOverheadBytes + Planner.IoBufferBytes + room;
        foreach (bool prefetch in new[] { true, false })
        {
            var p = Planner.Create(Qwen, MiniPc32(), new PlanOptions(4096, RamBudget: budget, Prefetch: prefetch)).Prediction;
            Assert.True(p.DiskSeconds > 0);
            Assert.Equal(Planner.OverlapSeconds(p.ComputeSeconds, p.DiskSeconds, prefetch), p.OverlapSeconds, 12);
            Assert.Equal(1 / (p.ComputeSeconds + p.DiskSeconds - p.OverlapSeconds), p.DecodeTokensPerSecond, 9);
            Assert.True(p.DecodeTokensPerSecond <= 1 / p.DiskSeconds + 1e-9, "never faster than the disk alone allows");
        }
    }
}
