using HybridEngine.Configuration;
using HybridEngine.Models;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using Xunit;
using static HybridEngine.Tests.Planning.PlanningModels;

namespace HybridEngine.Tests.Planning;

/// <summary>
/// Golden plans on synthetic hardware: the key decisions (what is resident, what streams, what is refused) are
/// asserted against figures the test derives from the inventory and the planner's stated constants.
/// </summary>
public sealed class PlannerTests
{
    private static readonly ModelInventory Qwen = HeaderOnly(Qwen3_30B_A3B, GgmlType.Q4_K);
    private const int Context = 4096;

    /// <summary>RAM the plan sets aside besides weights when experts stream (the constants its doc states).</summary>
    private static long FixedRam(ModelInventory m, bool streams) =>
        m.KvCacheBytes(Context) + m.ActivationBytes(Context) + Planner.RuntimeOverheadBytes + (streams ? Planner.IoBufferBytes : 0);

    private static double Rate(ExpertStats stats, int layerIndex, int expert, int used)
    {
        var counts = stats.Layers[layerIndex].Counts;
        return Math.Min(1, used * counts[expert] / counts.Sum());
    }

    [Fact]
    public void QuarterOfTheExpertBytesKeepsAlwaysUsedResidentPinsTheMostPopularAndStreams()
    {
        var stats = ZipfStats(Qwen);
        long room = Qwen.RoutedExpertBytes / 4;
        long budget = Qwen.AlwaysUsedBytes + FixedRam(Qwen, streams: true) + room;
        var plan = Planner.Create(Qwen, Laptop16(withIntegratedGpu: false), new PlanOptions(Context, RamBudget: budget), stats);

        Assert.All(plan.Tensors, t => Assert.Equal(Tier.RamResident, t.Tier));
        Assert.Equal(Qwen.AlwaysUsedBytes, plan.Tensors.Sum(t => t.Bytes));

        // The pinned experts are the most popular ones: every pinned rate ≥ every streamed rate.
        int used = Qwen.HyperParameters.ExpertsUsed;
        var pinnedRates = plan.Experts.SelectMany((l, i) => l.Resident.Select(e => Rate(stats, i, e, used))).ToList();
        var streamedRates = plan.Experts.SelectMany((l, i) => l.Streamed.Select(e => Rate(stats, i, e, used))).ToList();
        Assert.NotEmpty(pinnedRates);
        Assert.NotEmpty(streamedRates);
        Assert.True(pinnedRates.Min() >= streamedRates.Max(), $"a pinned expert ({pinnedRates.Min()}) is less popular than a streamed one ({streamedRates.Max()})");

        // Measured stats pin MeasuredPinnedShare of the expert room (all experts are the same size here: within one expert).
        long expertBytes = Qwen.MoeLayers[0].ExpertBytes;
        long pinned = plan.Experts.Sum(l => (long)l.Resident.Length) * expertBytes;
        Assert.InRange(pinned, (long)(room * Planner.MeasuredPinnedShare) - expertBytes, (long)(room * Planner.MeasuredPinnedShare));
        Assert.Equal(room - pinned, plan.TierOf(Tier.RamCache).Bytes);

        var p = plan.Prediction;
        Assert.True(p.DiskBytesPerToken > 0);
        Assert.InRange(p.ExpertHitRate, 0.01, 0.99);
        Assert.Equal(p.DiskBytesPerToken / 5e9, p.DiskSeconds, 12); // laptop disk: 5 GB/s
        Assert.Equal(budget, p.PeakRamBytes); // the budget is used exactly, never exceeded
        Assert.True(p.DecodeTokensPerSecond > 0 && p.DecodeTokensPerSecond < 1 / p.DiskSeconds);
    }

    [Fact]
    public void UniformPopularityPinsNothingAndHitsInProportionToTheCache()
    {
        long room = Qwen.RoutedExpertBytes / 4;
        long budget = Qwen.AlwaysUsedBytes + FixedRam(Qwen, streams: true) + room;
        var plan = Planner.Create(Qwen, MiniPc32(), new PlanOptions(Context, RamBudget: budget));

        Assert.All(plan.Experts, l => Assert.Empty(l.Resident));
        long cache = plan.TierOf(Tier.RamCache).Bytes;
        Assert.Equal(room, cache);
        // Equal rates and sizes: an LRU cache holds a uniformly random C/total of the experts, so hit = C/total.
        Assert.Equal((double)cache / Qwen.RoutedExpertBytes, plan.Prediction.ExpertHitRate, 6);
        // Every token routes expertsUsed experts per MoE layer; the misses are read from disk.
        double perToken = (double)Qwen.HyperParameters.ExpertsUsed * Qwen.MoeLayers.Length * Qwen.MoeLayers[0].ExpertBytes;
        // The runtime prefetches by default: wrong guesses add PrefetchWasteShare of the misses.
        Assert.Equal(perToken * (1 - (double)cache / Qwen.RoutedExpertBytes) * (1 + Planner.PrefetchWasteShare), plan.Prediction.DiskBytesPerToken, perToken * 1e-6);
        var off = Planner.Create(Qwen, MiniPc32(), new PlanOptions(Context, RamBudget: budget, Prefetch: false));
        Assert.Equal(perToken * (1 - (double)cache / Qwen.RoutedExpertBytes), off.Prediction.DiskBytesPerToken, perToken * 1e-6);
    }

    [Fact]
    public void PlentyOfRamMakesEverythingResidentAndReadsNothingFromDisk()
    {
        var plan = Planner.Create(Qwen, MiniPc32(), new PlanOptions(Context), ZipfStats(Qwen));
        Assert.All(plan.Experts, l => Assert.Equal(Qwen.HyperParameters.Experts, l.Resident.Length));
        Assert.Equal(0, plan.Prediction.DiskBytesPerToken);
        Assert.Equal(1, plan.Prediction.ExpertHitRate);
        Assert.Equal(0, plan.TierOf(Tier.RamCache).Bytes);
        Assert.Equal(0, plan.TierOf(Tier.Disk).Experts);
        Assert.Equal(Qwen.TotalBytes, plan.TierOf(Tier.RamResident).Bytes);
        Assert.Equal(Qwen.TotalBytes + FixedRam(Qwen, streams: false), plan.Prediction.PeakRamBytes);
        // 85 % of 32 GiB is the default budget.
        Assert.Equal((long)(32 * GiB * Planner.DefaultRamShare), plan.RamBudgetBytes);
    }

    [Fact]
    public void BudgetBelowTheAlwaysUsedWeightsIsRefusedNamingTheNeededSize()
    {
        var v3 = HeaderOnly(DeepSeekV3, GgmlType.Q4_K, p => Q4KM(p, DeepSeekV3.Layers));
        long minCache = Planner.MinimumCachedLayers * (long)v3.HyperParameters.ExpertsUsed * v3.LargestExpertBytes;
        long needed = v3.AlwaysUsedBytes + FixedRam(v3, streams: true) + minCache;
        var hardware = Laptop16();

        var ex = Assert.Throws<PlanRefusedException>(() => Planner.Create(v3, hardware, new PlanOptions(Context, RamBudget: v3.AlwaysUsedBytes / 2)));
        Assert.Equal(needed, ex.NeededRamBytes);
        Assert.Contains(ByteSize.Format(needed), ex.Message);
        Assert.Contains(ByteSize.Format(v3.AlwaysUsedBytes / 2), ex.Message);
        Assert.DoesNotContain('\n', ex.Message);

        Assert.Throws<PlanRefusedException>(() => Planner.Create(v3, hardware, new PlanOptions(Context, RamBudget: needed - 1)));
        var tight = Planner.Create(v3, hardware, new PlanOptions(Context, RamBudget: needed));
        Assert.Equal(minCache, tight.TierOf(Tier.RamCache).Bytes);
        Assert.Equal(needed, tight.Prediction.PeakRamBytes);
    }

    [Fact]
    public void CpuOnlyPlacesNothingOnAGpuTheProfileLists()
    {
        var stats = ZipfStats(Qwen);
        var withGpu = Planner.Create(Qwen, Desktop64Gpu8(), new PlanOptions(Context), stats);
        Assert.True(withGpu.TierOf(Tier.Gpu).Bytes > 0, "the control plan should use the GPU");

        var cpuOnly = Planner.Create(Qwen, Desktop64Gpu8(), new PlanOptions(Context, CpuOnly: true), stats);
        Assert.All(cpuOnly.Tensors, t => Assert.NotEqual(Tier.Gpu, t.Tier));
        Assert.All(cpuOnly.Experts, l => Assert.Empty(l.Gpu));
        Assert.Equal(0, cpuOnly.TierOf(Tier.Gpu).Bytes);
        Assert.Equal(0, cpuOnly.VramBudgetBytes);
        Assert.Equal(0, cpuOnly.Prediction.PeakVramBytes);
    }

    [Fact]
    public void GpuTakesAlwaysUsedWeightsFirstThenTheMostPopularExperts()
    {
        var stats = ZipfStats(Qwen);
        var plan = Planner.Create(Qwen, Desktop64Gpu8(), new PlanOptions(Context), stats);
        // Every weight read in full each token is on the GPU; the embedding table (one row per token) is not.
        Assert.All(plan.Tensors, t => Assert.Equal(t.Class == "embeddings" ? Tier.RamResident : Tier.Gpu, t.Tier));
        int used = Qwen.HyperParameters.ExpertsUsed;
        var onGpu = plan.Experts.SelectMany((l, i) => l.Gpu.Select(e => Rate(stats, i, e, used))).ToList();
        var inRam = plan.Experts.SelectMany((l, i) => l.Resident.Select(e => Rate(stats, i, e, used))).ToList();
        Assert.NotEmpty(onGpu);
        Assert.True(onGpu.Min() >= inRam.Max());
        long vram = 8 * GiB - Planner.GpuReserveBytes;
        Assert.Equal(vram, plan.VramBudgetBytes);
        Assert.InRange(plan.Prediction.PeakVramBytes, vram - Qwen.MoeLayers[0].ExpertBytes, vram);
    }

    [Fact]
    public void IntegratedGpuAddsComputeButNoCapacity()
    {
        var stats = ZipfStats(Qwen);
        var options = new PlanOptions(Context, RamBudget: 10 * GiB);
        var with = Planner.Create(Qwen, Laptop16(withIntegratedGpu: true), options, stats);
        var without = Planner.Create(Qwen, Laptop16(withIntegratedGpu: false), options, stats);

        Assert.Equal(0, with.TierOf(Tier.IntegratedGpu).CapacityBytes);
        Assert.Equal(Qwen.AlwaysUsedBytes - Qwen.ClassBytes[TensorClass.Embeddings], with.TierOf(Tier.IntegratedGpu).Bytes);
        Assert.Equal(0, without.TierOf(Tier.IntegratedGpu).Bytes);
        Assert.Equal(without.Prediction.PeakRamBytes, with.Prediction.PeakRamBytes);
        Assert.Equal(without.Prediction.DiskBytesPerToken, with.Prediction.DiskBytesPerToken);
        Assert.Equal(without.TierOf(Tier.RamCache).Bytes, with.TierOf(Tier.RamCache).Bytes);
        Assert.Equal(without.Experts.Select(l => string.Join(",", l.Resident)), with.Experts.Select(l => string.Join(",", l.Resident)));
        Assert.Equal(0, with.Prediction.PeakVramBytes);
    }

    [Fact]
    public void SamePlanInputsGiveTheSameJson()
    {
        string First() => Planner.Create(HeaderOnly(Qwen3_30B_A3B, GgmlType.Q4_K), Desktop64Gpu8(), new PlanOptions(8192, RamBudget: 12 * GiB), ZipfStats(Qwen)).ToJson();
        string a = First(), b = First();
        Assert.Equal(a, b);
        using var doc = System.Text.Json.JsonDocument.Parse(a);
        Assert.Equal(5, doc.RootElement.GetProperty("tiers").GetArrayLength());
        Assert.Equal(Qwen.MoeLayers.Length, doc.RootElement.GetProperty("experts").GetArrayLength());
    }

    [Theory]
    [InlineData("q4_k_m")]
    [InlineData("iq1_s")]
    public void DeepSeekV3OnTheDesktopStreamsWithinTheBudgets(string mix)
    {
        var v3 = HeaderOnly(DeepSeekV3, GgmlType.Q4_K, p => mix == "q4_k_m" ? Q4KM(p, DeepSeekV3.Layers) : Iq1SMix(p));
        var plan = Planner.Create(v3, Desktop64Gpu8(), new PlanOptions(Context));
        var p = plan.Prediction;
        Assert.True(p.PeakRamBytes <= plan.RamBudgetBytes);
        Assert.True(p.PeakVramBytes <= plan.VramBudgetBytes);
        Assert.Equal(v3.TotalBytes, plan.Tiers.Where(t => t.Tier is Tier.Gpu or Tier.RamResident or Tier.Disk).Sum(t => t.Bytes)
            + plan.Tensors.Where(t => t.Tier == Tier.IntegratedGpu).Sum(t => t.Bytes));
        // Bounds on disk bytes per token: at most every routed expert of every layer read, at least the cache's misses.
        double routedPerToken = (double)v3.HyperParameters.ExpertsUsed * v3.MoeLayers.Sum(l => l.ExpertBytes);
        long streamed = plan.Experts.Sum(l => l.Streamed.Length * l.ExpertBytes);
        Assert.InRange(p.DiskBytesPerToken, 0.5 * routedPerToken * (1 - (double)plan.TierOf(Tier.RamCache).Bytes / streamed), routedPerToken);
        Assert.True(p.DiskBytesPerToken > 0);
    }

    /// <summary>The 1.58-bit mix (SPEC 4.7): routed gate/up IQ1_S, down IQ2_XXS, the rest as the Q4_K plan stores it.</summary>
    private static GgmlType Iq1SMix(HybridEngine.Models.Synthetic.PlannedTensor p) =>
        p.Type != GgmlType.Q4_K ? p.Type
        : p.Tensor.Name.EndsWith("ffn_down_exps.weight", StringComparison.Ordinal) ? GgmlType.IQ2_XXS
        : p.Tensor.Name.Contains("_exps", StringComparison.Ordinal) ? GgmlType.IQ1_S
        : GgmlType.Q4_K;
}
