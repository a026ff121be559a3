using System.Collections.Immutable;
using HybridEngine.Gguf;
using HybridEngine.Gpu;
using HybridEngine.Models;
using HybridEngine.Models.Synthetic;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// What crosses the bus per decoded token, and the CPU/GPU expert overlap, on a two-layer qwen3moe (GQA with q/k norms)
/// and a three-layer deepseek2 (MLA, a leading dense layer, shared experts) placed on ILGPU's CPU accelerator standing
/// in for a GPU.
/// </summary>
public sealed class GpuTransferTests(GpuTestDevice device, ITestOutputHelper output) : IClassFixture<GpuTestDevice>, IDisposable
{
    private const int Context = 16, Batch = 4;
    private static readonly int[] Prompt = [1, 7, 3, 12, 5, 9];
    private readonly string _root = TestPaths.NewScratchDirectory();

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>
    /// Every weight on the GPU: one decoded token copies, per layer, the attention block's input, positions and rotary
    /// angles up and its output down (4; GQA or the whole MLA block), a dense or shared-expert FFN's input up and
    /// output down (2), the router's input up and logits down (2), the expert batch's rows up and outputs down (2);
    /// then the output head's input up and logits down (2). Counted from the plan's tiers, copies and bytes exactly.
    /// The same device driven op by op (wrapped so it does not offer the resident ops) copies every product's input
    /// and output, so it must copy more; both runs give the same top token.
    /// </summary>
    [Theory]
    [InlineData("qwen3moe")]
    [InlineData("deepseek2")]
    public void DecodedTokenCopiesOnlyAtDeviceBoundaries(string arch)
    {
        var (path, rotaryDims) = Write(arch);
        using var model = LoadedModel.Load(path);
        var d = model.Model.Dimensions;
        var gpu = device.Device;

        using var placement = Place(model, path, gpu);
        var plan = placement.Plan!;
        var (copies, bytes) = Expected(plan, d, rotaryDims);
        var (residentCopies, residentBytes, residentTop) = DecodeOnce(model, gpu);
        placement.Release();

        using var perOp = Place(model, path, new ConstrainedDevice(gpu, 64L << 30));
        var (opCopies, _, opTop) = DecodeOnce(model, gpu);

        output.WriteLine($"per decoded token: {residentCopies} copies / {residentBytes} B resident, {opCopies} copies op by op (expected {copies} / {bytes} B)");
        Assert.Equal(copies, residentCopies);
        Assert.Equal(bytes, residentBytes);
        Assert.True(opCopies > residentCopies, $"op by op {opCopies} copies, resident {residentCopies}");
        Assert.Equal(opTop, residentTop);
    }

    /// <summary>
    /// Half the experts on the GPU: layers whose tokens chose experts on both sides compute the CPU's while the GPU
    /// batch is in flight; both sides ran (counters), and the logits keep the tolerance of
    /// <see cref="GpuPlacementTests.GpuPlacementMatchesCpuOnlyLogits"/> (F32 weights: only summation order differs,
    /// the batch's outputs now being added after the CPU's; 1e-4 of the logits' range).
    /// </summary>
    [Fact]
    public void CpuAndGpuExpertsOfALayerOverlap()
    {
        string path = Write("qwen3moe").Path;
        float[] cpu;
        using (var cpuModel = LoadedModel.Load(path))
        using (var cpuEx = cpuModel.CreateExecutor(new ExecutorOptions(Context, Batch, Threads: 2)))
            cpu = cpuEx.Forward(Prompt, 0);

        using var model = LoadedModel.Load(path);
        using var placement = Place(model, path, device.Device, halfTheExperts: true);
        using var ex = model.CreateExecutor(new ExecutorOptions(Context, Batch, Threads: 2));
        float[] placed = ex.Forward(Prompt, 0);

        var c = ex.Counters;
        output.WriteLine($"expert products: {c.DeviceExpertProducts} GPU, {c.CpuExpertProducts} CPU, {c.OverlappedExpertSteps} overlapped layer steps");
        Assert.True(c.DeviceExpertProducts > 0 && c.CpuExpertProducts > 0);
        Assert.True(c.OverlappedExpertSteps > 0);
        double range = cpu.Max() - cpu.Min();
        for (int i = 0; i < cpu.Length; i++) Assert.True(Math.Abs(cpu[i] - placed[i]) <= 1e-4 * range, $"logit {i}: {cpu[i]} vs {placed[i]}");
    }

    // Copies and bytes of one decoded token implied by the plan (see DecodedTokenCopiesOnlyAtDeviceBoundaries).
    private static (long Copies, long Bytes) Expected(Plan plan, ModelDimensions d, int rotaryDims)
    {
        bool OnGpu(string name) => plan.Tensors.Any(t => t.Name == name && t.Tier == Tier.Gpu);
        long copies = 0, bytes = 0;
        for (int layer = 0; layer < d.Layers; layer++)
        {
            if (OnGpu($"blk.{layer}.attn_output.weight"))
            {
                copies += 4;   // x up, positions up, rotary angles (cos and sin of rotaryDims/2 pairs) up, output down
                bytes += 4L * (d.Hidden + 1 + rotaryDims + d.Hidden);
            }
            if (OnGpu($"blk.{layer}.ffn_gate.weight") || OnGpu($"blk.{layer}.ffn_gate_shexp.weight"))
            {
                copies += 2;   // the dense (or shared-expert) FFN: x up, output down
                bytes += 2 * 4L * d.Hidden;
            }
            if (OnGpu($"blk.{layer}.ffn_gate_inp.weight"))
            {
                copies += 2;
                bytes += 4L * (d.Hidden + d.Experts);
            }
            if (plan.Experts.SingleOrDefault(l => l.Layer == layer) is { } experts && experts.Gpu.Length == d.Experts)
            {
                copies += 2;   // every chosen expert is in the batch: expertsUsed rows up, as many down
                bytes += 2 * 4L * d.ExpertsUsed * d.Hidden;
            }
        }
        if (OnGpu("output.weight"))
        {
            copies += 2;
            bytes += 4L * (d.Hidden + d.Vocab);
        }
        return (copies, bytes);
    }

    // Prefills the prompt, then counts the copies of the one decoded token; returns its top logit's token too.
    private static (long Copies, long Bytes, int Top) DecodeOnce(LoadedModel model, GpuDevice gpu)
    {
        using var ex = model.CreateExecutor(new ExecutorOptions(Context, Batch, Threads: 2));
        ex.Forward(Prompt, 0);
        var logits = new float[ex.Vocab];
        gpu.Transfers.Reset();
        ex.Forward([4], Prompt.Length, logits, allLogits: false);
        return (gpu.Transfers.Copies, gpu.Transfers.Bytes, Array.IndexOf(logits, logits.Max()));
    }

    // The model file and its rotated dims per head (the angles uploaded per token).
    private (string Path, int RotaryDims) Write(string arch)
    {
        string path = Path.Combine(_root, arch + ".gguf");
        var spec = arch == "qwen3moe"
            ? SyntheticModels.Spec(arch, "tiny") with { Layers = 2, Heads = 2, KvHeads = 1 }
            : SyntheticModels.Spec(arch, "tiny") with { Heads = 2, QLoraRank = 64, KvLoraRank = 64, Experts = 8 };
        SyntheticWriter.Write(spec, new SyntheticOptions(GgmlType.F32, Seed: 5), path);
        return (path, spec.RopeDim > 0 ? spec.RopeDim : spec.HeadDim);
    }

    /// <summary>The plan of a machine with one 8 GB GPU whose VRAM budget holds the always-used weights, the scratch, the KV cache and all (or half) the experts.</summary>
    private static DevicePlacement Place(LoadedModel model, string path, IComputeDevice gpu, bool halfTheExperts = false)
    {
        ModelInventory inventory;
        using (var file = GgufFile.Open(path)) inventory = ModelInventory.FromGguf(file);
        var hardware = new PlannerHardware(64L << 30, 20, ImmutableSortedDictionary<string, double>.Empty, 2,
            [new PlannerGpu("test gpu", false, 8L << 30, null)], Assumed: false, "test");
        long vram = inventory.AlwaysUsedBytes + inventory.ActivationBytes(Context) + inventory.KvCacheBytes(Context)
            + (halfTheExperts ? inventory.RoutedExpertBytes / 2 : inventory.RoutedExpertBytes);
        var placement = new DevicePlacement(model.Weights, [gpu]);
        placement.Apply(Planner.Create(inventory, hardware, new PlanOptions(Context, VramBudget: vram)));
        model.Placement = placement;
        return placement;
    }
}
