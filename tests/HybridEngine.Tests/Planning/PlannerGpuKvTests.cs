using HybridEngine.Models;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using Xunit;
using static HybridEngine.Tests.Planning.PlanningModels;

namespace HybridEngine.Tests.Planning;

/// <summary>
/// Where the planner counts the KV cache: a layer whose attention runs on a dedicated GPU (its attn_output there) keeps
/// its share of the cache (the inventory's KV bytes / layers) in VRAM, within the VRAM budget, and not in RAM; the
/// layers attending on the CPU or an integrated GPU keep theirs in RAM.
/// </summary>
public sealed class PlannerGpuKvTests
{
    private static readonly ModelInventory Qwen = HeaderOnly(Qwen3_30B_A3B, GgmlType.Q4_K);
    private const int Context = 4096;

    private static long PerLayer => Qwen.KvCacheBytes(Context) / Qwen.HyperParameters.Layers;

    private static int AttentionLayersOn(Plan plan, Tier tier) =>
        plan.Tensors.Count(t => t.Name.EndsWith(".attn_output.weight", StringComparison.Ordinal) && t.Tier == tier);

    [Fact]
    public void GpuAttentionKeepsItsKvCacheInVram()
    {
        var plan = Planner.Create(Qwen, Desktop64Gpu8(), new PlanOptions(Context));
        var cpuOnly = Planner.Create(Qwen, Desktop64Gpu8(), new PlanOptions(Context, CpuOnly: true));
        int layers = Qwen.HyperParameters.Layers;

        Assert.Equal(layers, AttentionLayersOn(plan, Tier.Gpu));
        Assert.Equal(layers * PerLayer, plan.Reserve.GpuKvCacheBytes);
        Assert.Equal(0, plan.Reserve.KvCacheBytes);
        Assert.Equal(Qwen.KvCacheBytes(Context), cpuOnly.Reserve.KvCacheBytes);
        Assert.Equal(0, cpuOnly.Reserve.GpuKvCacheBytes);
        // VRAM: weights, scratch and the KV cache, within the budget.
        long vram = plan.TierOf(Tier.Gpu).Bytes + plan.Reserve.GpuScratchBytes + plan.Reserve.GpuKvCacheBytes;
        Assert.Equal(vram, plan.Prediction.PeakVramBytes);
        Assert.True(vram <= plan.VramBudgetBytes, $"{vram} B in VRAM over the budget {plan.VramBudgetBytes} B");
    }

    /// <summary>
    /// A VRAM budget of exactly the scratch and the always-used weights read every token: no room is left for their
    /// KV cache, so some layers' attention (with their output projection) stays on the CPU, and what is on the GPU,
    /// KV included, fits the budget; each layer's share is in exactly one of VRAM and RAM.
    /// </summary>
    [Fact]
    public void VramWithoutRoomForTheKvCacheLeavesSomeAttentionOnTheCpu()
    {
        long weights = Qwen.Tensors.Where(t => t.Class is not (TensorClass.RoutedExperts or TensorClass.Embeddings)).Sum(t => t.Bytes);
        long budget = Qwen.ActivationBytes(Context) + weights;
        var plan = Planner.Create(Qwen, Desktop64Gpu8(), new PlanOptions(Context, VramBudget: budget));
        int layers = Qwen.HyperParameters.Layers;

        int onGpu = AttentionLayersOn(plan, Tier.Gpu);
        Assert.InRange(onGpu, 1, layers - 1);
        Assert.Equal(onGpu * PerLayer, plan.Reserve.GpuKvCacheBytes);
        Assert.Equal((layers - onGpu) * PerLayer, plan.Reserve.KvCacheBytes);
        Assert.True(plan.Prediction.PeakVramBytes <= budget, $"{plan.Prediction.PeakVramBytes} B in VRAM over the budget {budget} B");
    }

    /// <summary>An integrated GPU computes from RAM: its layers' KV cache is counted there, and nothing in VRAM.</summary>
    [Fact]
    public void IntegratedGpuKeepsTheKvCacheInRam()
    {
        var plan = Planner.Create(Qwen, Laptop16(withIntegratedGpu: true), new PlanOptions(Context, RamBudget: 10 * GiB));
        Assert.Equal(Qwen.HyperParameters.Layers, AttentionLayersOn(plan, Tier.IntegratedGpu));
        Assert.Equal(Qwen.KvCacheBytes(Context), plan.Reserve.KvCacheBytes);
        Assert.Equal(0, plan.Reserve.GpuKvCacheBytes);
    }
}
