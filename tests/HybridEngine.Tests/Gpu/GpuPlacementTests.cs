using System.Collections.Immutable;
using HybridEngine.Gguf;
using HybridEngine.Gpu;
using HybridEngine.Models.Synthetic;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// Whole-model runs (two-layer tiny deepseek2, MLA, and qwen3moe, GQA) with a plan that puts attention (with its KV cache), the dense and shared FFNs, the output head
/// and part of the routed experts on ILGPU's CPU accelerator standing in for a GPU, against the same model CPU-only;
/// and the fallback: a kernel failure or an upload beyond the device's memory gives one warning and CPU-only logits.
/// A run is a 6-token prefill in batches of 4 (two matrix-matrix steps) and then 2 decoded tokens (matrix-vector).
/// </summary>
public sealed class GpuPlacementTests(GpuTestDevice device, ITestOutputHelper output) : IClassFixture<GpuTestDevice>, IDisposable
{
    private const int Context = 16, Batch = 4;
    private static readonly int[] Prompt = [1, 7, 3, 12, 5, 9];
    private static readonly int[] Decoded = [10, 13];
    private readonly string _root = TestPaths.NewScratchDirectory();

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>
    /// F32 weights, so the CPU and the GPU kernels both multiply exact F32 weights by unquantized F32 activations and
    /// only the summation order differs (SIMD lanes and threads on the CPU, one warp's tree on the GPU; attention: an
    /// online softmax on the GPU). Each such sum differs by a few ulps (~1e-7 relative); over 2–3 layers of a tiny
    /// model that stays far below 1e-5 of the logits' range (measured: 3e-7). Budget: max |Δlogit| ≤ 1e-4 × range (a wrong slice,
    /// head or cache row moves logits by a sizeable part of the range), and the same top-1 token everywhere.
    /// </summary>
    [Theory]
    [InlineData("deepseek2", MlaLayout.KbVb)]
    [InlineData("qwen3moe", MlaLayout.KbVb)]
    public void GpuPlacementMatchesCpuOnlyLogits(string arch, MlaLayout layout)
    {
        string path = Write(arch, layout);
        float[] cpu = CpuOnly(path);

        using var model = LoadedModel.Load(path);
        var gpu = device.Device;   // shared by the class: its kernels compile once
        var warnings = new List<string>();
        using var placement = Place(model, path, gpu, warnings, halfTheExperts: true);
        using var ex = model.CreateExecutor(new ExecutorOptions(Context, Batch, Threads: 2));
        float[] placed = Run(ex);

        Assert.Empty(warnings);
        Assert.True(placement.Active && !placement.FellBack);
        int totalExperts = model.Weights.ExpertLayers.Sum(l => l.Experts);
        Assert.InRange(placement.Experts, 1, totalExperts - 1);   // some experts on each side
        if (arch == "deepseek2") Assert.Contains(placement.Plan!.Tensors, t => t.Class == "shared_experts");
        Assert.All(placement.Plan!.Tensors.Where(t => t.Class is "attention" or "shared_experts" or "dense_ffn" or "output"), t => Assert.Equal(Tier.Gpu, t.Tier));
        for (int layer = 0; layer < model.Model.Dimensions.Layers; layer++)
        {
            Assert.Same(gpu, ex.DeviceCache(layer)?.Device);
            Assert.False(ex.Cache.HasLayer(layer), $"layer {layer} attends on the GPU but has host KV rows");
        }
        Assert.Equal(0, ex.Cache.Bytes);
        Assert.True(ex.AcceleratorProducts > 0);
        // MLA's per-head k_b/v_b went up as one stack per tensor, so the block applies all heads in one launch.
        var headTensors = model.Weights.UsedTensors.Where(n => n.EndsWith("attn_k_b.weight") || n.EndsWith("attn_v_b.weight")).ToList();
        Assert.Equal(arch == "deepseek2", headTensors.Count > 0);
        foreach (string name in headTensors)
        {
            var heads = model.Weights.SlotsOf(name).Select(slot => Assert.IsType<GpuWeights>(slot.Weights)).ToArray();
            Assert.Equal(2, heads.Length);
            for (int h = 0; h < heads.Length; h++) Assert.True(heads[h].Follows(heads[0], h), $"{name} head {h} is not in its tensor's stack");
        }

        double range = cpu.Max() - cpu.Min(), worst = 0;
        for (int i = 0; i < cpu.Length; i++) worst = Math.Max(worst, Math.Abs(cpu[i] - placed[i]));
        output.WriteLine($"{arch} {layout}: {placement.Tensors} matrices, {placement.Experts}/{totalExperts} experts on the GPU; max |Δ| {worst:E2} of range {range:F3}");
        Assert.True(worst <= 1e-4 * range, $"max |Δlogit| {worst:E3} exceeds 1e-4 of the range {range:F3}");
        int vocab = model.Model.Dimensions.Vocab;
        for (int row = 0; row < cpu.Length / vocab; row++)
            Assert.Equal(ArgMax(cpu.AsSpan(row * vocab, vocab)), ArgMax(placed.AsSpan(row * vocab, vocab)));
    }

    /// <summary>
    /// A kernel fault at the first op, or at the first decode step after a GPU prefill (the KV cache then lives only on
    /// the device, so the executor replays the prompt on the CPU): one warning, a CPU-only plan, nothing left on the
    /// device, and from the failed step on logits bit-identical to the CPU-only run (from then on everything is the
    /// CPU's computation, the prompt replayed in the same batches); the prefill before a decode-step fault ran on the
    /// device and gets the tolerance of <see cref="GpuPlacementMatchesCpuOnlyLogits"/>.
    /// </summary>
    [Theory]
    [InlineData("deepseek2", MlaLayout.KbVb, 0)]
    [InlineData("deepseek2", MlaLayout.KvB, 1)]
    [InlineData("qwen3moe", MlaLayout.KbVb, 1)]
    public void KernelFailureFallsBackWithOneWarning(string arch, MlaLayout layout, int failAtDecodeStep)
    {
        string path = Write(arch, layout);
        float[] cpu = CpuOnly(path);

        using var model = LoadedModel.Load(path);
        var gpu = device.Device;   // shared by the class: its kernels compile once
        var warnings = new List<string>();
        using var placement = Place(model, path, gpu, warnings, halfTheExperts: true);
        using var ex = model.CreateExecutor(new ExecutorOptions(Context, Batch, Threads: 2));
        Assert.NotNull(ex.DeviceCache(0));
        Assert.False(ex.Cache.HasLayer(0));
        float[] placed = Run(ex, before: step =>
        {
            if (step == failAtDecodeStep) gpu.FailNextOp = true;
        });

        Assert.Single(warnings);
        Assert.Contains("injected fault", warnings[0]);
        Assert.True(placement.FellBack);
        Assert.False(placement.Active);
        Assert.Null(ex.DeviceCache(0));
        Assert.True(ex.Cache.HasLayer(0), "the fallback allocates the host KV rows the device held");
        Assert.DoesNotContain(placement.Plan!.Tensors, t => t.Tier is Tier.Gpu or Tier.IntegratedGpu);
        if (failAtDecodeStep == 0) Assert.Equal(0, ex.AcceleratorProducts);
        else Assert.True(ex.AcceleratorProducts > 0, "the prefill ran on the device before the fault");
        int vocab = ex.Vocab;
        int exactFrom = failAtDecodeStep == 0 ? 0 : (Prompt.Length + failAtDecodeStep - 1) * vocab;
        Assert.Equal(cpu.AsSpan(exactFrom).ToArray(), placed.AsSpan(exactFrom).ToArray());
        double range = cpu.Max() - cpu.Min();
        for (int i = 0; i < exactFrom; i++) Assert.True(Math.Abs(cpu[i] - placed[i]) <= 1e-4 * range, $"prefill logit {i} differs by {cpu[i] - placed[i]}");
    }

    /// <summary>
    /// A RAM budget that only the GPU plan fits (the always-used weights sit in VRAM): after a kernel fault no CPU-only
    /// plan fits it, and the run goes on over the budget (the mapping still holds every weight) with one warning that
    /// says so, and the CPU-only logits.
    /// </summary>
    [Fact]
    public void FallbackBeyondTheRamBudgetWarnsAndContinues()
    {
        string path = Write("qwen3moe", MlaLayout.KbVb);
        float[] cpu = CpuOnly(path);

        using var model = LoadedModel.Load(path);
        var warnings = new List<string>();
        using var placement = Place(model, path, device.Device, warnings, halfTheExperts: false, tightRam: true);
        Assert.True(placement.Active);
        using var ex = model.CreateExecutor(new ExecutorOptions(Context, Batch, Threads: 2));
        device.Device.FailNextOp = true;
        float[] placed = Run(ex);

        Assert.Single(warnings);
        Assert.Contains("over the budgets", warnings[0]);
        Assert.True(placement.FellBack && !placement.Active);
        Assert.Equal(cpu, placed);
    }

    /// <summary>
    /// A plan made for an 8 GB GPU on a device that has far less: the upload fails the way a driver's out-of-memory
    /// does, the placement falls back before any token with one warning, and the logits are the CPU-only ones.
    /// </summary>
    [Fact]
    public void UploadBeyondDeviceMemoryFallsBack()
    {
        string path = Write("qwen3moe", MlaLayout.KbVb);
        float[] cpu = CpuOnly(path);

        using var model = LoadedModel.Load(path);
        var small = new ConstrainedDevice(device.Device, 64 << 10);
        var warnings = new List<string>();
        using var placement = Place(model, path, small, warnings, halfTheExperts: false);
        Assert.Single(warnings);
        Assert.Contains("out of memory", warnings[0]);
        Assert.True(placement.FellBack && !placement.Active);
        Assert.Equal(0, small.HeldBytes);   // the partial upload was freed

        using var ex = model.CreateExecutor(new ExecutorOptions(Context, Batch, Threads: 2));
        Assert.Null(ex.DeviceCache(0));
        Assert.Equal(cpu, Run(ex));
        Assert.Equal(0, ex.AcceleratorProducts);
        Assert.Single(warnings);
    }

    /// <summary>
    /// An integrated GPU (the shared device presented as one): the plan puts the always-used weights except the
    /// embedding lookup in the integrated tier (counted against RAM) and no routed expert; they are uploaded to it,
    /// attention and its KV cache go with them, and the logits keep the budget of <see cref="GpuPlacementMatchesCpuOnlyLogits"/>.
    /// </summary>
    [Fact]
    public void IntegratedGpuComputesTheAlwaysUsedWeights()
    {
        string path = Write("qwen3moe", MlaLayout.KbVb);
        float[] cpu = CpuOnly(path);

        using var model = LoadedModel.Load(path);
        var integrated = new ConstrainedDevice(device.Device, 64L << 30, DeviceKind.IntegratedGpu);
        var warnings = new List<string>();
        using var placement = Place(model, path, integrated, warnings, halfTheExperts: false, integrated: true);
        using var ex = model.CreateExecutor(new ExecutorOptions(Context, Batch, Threads: 2));
        float[] placed = Run(ex);

        Assert.Empty(warnings);
        Assert.All(placement.Plan!.Tensors.Where(t => t.Class != "embeddings"), t => Assert.Equal(Tier.IntegratedGpu, t.Tier));
        Assert.Equal(0, placement.Experts);
        Assert.True(placement.Tensors > 0 && integrated.HeldBytes > 0);
        Assert.NotNull(ex.DeviceCache(0));
        double range = cpu.Max() - cpu.Min();
        for (int i = 0; i < cpu.Length; i++) Assert.True(Math.Abs(cpu[i] - placed[i]) <= 1e-4 * range, $"logit {i}: {cpu[i]} vs {placed[i]}");
    }

    private string Write(string arch, MlaLayout layout)
    {
        string path = Path.Combine(_root, $"{arch}-{layout}.gguf");
        // Two layers (deepseek2: the dense lead layer and one MoE layer with a shared expert), two heads: ILGPU's CPU
        // accelerator runs every kernel launch through its own thread group, so fewer products keep the test fast.
        var spec = SyntheticModels.Spec(arch, "tiny") with { Layers = 2, Heads = 2 };
        if (arch == "qwen3moe") spec = spec with { KvHeads = 1 };
        SyntheticWriter.Write(spec, new SyntheticOptions(GgmlType.F32, Seed: 5, Layout: layout), path);
        return path;
    }

    private static float[] CpuOnly(string path)
    {
        using var model = LoadedModel.Load(path);
        using var ex = model.CreateExecutor(new ExecutorOptions(Context, Batch, Threads: 2));
        return Run(ex);
    }

    /// <summary>Prefill logits [12, vocab] then each decoded token's [vocab]; <paramref name="before"/> sees the step (0 = prefill).</summary>
    private static float[] Run(Executor ex, Action<int>? before = null)
    {
        int vocab = ex.Vocab;
        var logits = new float[(Prompt.Length + Decoded.Length) * vocab];
        before?.Invoke(0);
        ex.Forward(Prompt, 0, logits, allLogits: true);
        for (int i = 0; i < Decoded.Length; i++)
        {
            before?.Invoke(i + 1);
            ex.Forward(Decoded.AsSpan(i, 1), Prompt.Length + i, logits.AsSpan((Prompt.Length + i) * vocab, vocab), allLogits: false);
        }
        return logits;
    }

    /// <summary>
    /// The plan of a machine with one 8 GB GPU under a VRAM budget that holds every always-used weight, the GPU's
    /// activation scratch and (optionally) only half the routed-expert bytes; applied to <paramref name="gpu"/>.
    /// </summary>
    private static DevicePlacement Place(LoadedModel model, string path, IComputeDevice gpu, List<string> warnings, bool halfTheExperts,
        bool integrated = false, bool tightRam = false)
    {
        ModelInventory inventory;
        using (var file = GgufFile.Open(path)) inventory = ModelInventory.FromGguf(file);
        var hardware = new PlannerHardware(64L << 30, 20, ImmutableSortedDictionary<string, double>.Empty, 2,
            [new PlannerGpu("test gpu", integrated, integrated ? 0 : 8L << 30, null)], Assumed: false, "test");
        long vram = inventory.AlwaysUsedBytes + inventory.ActivationBytes(Context) + (halfTheExperts ? inventory.RoutedExpertBytes / 2 : inventory.RoutedExpertBytes);
        var options = new PlanOptions(Context, VramBudget: integrated ? null : vram);
        if (tightRam)
        {
            // The smallest RAM budget the GPU plan runs with: the planner's refusal of a 1-byte budget names it.
            var refusal = Assert.Throws<PlanRefusedException>(() => Planner.Create(inventory, hardware, options with { RamBudget = 1 }));
            options = options with { RamBudget = refusal.NeededRamBytes };
        }
        var placement = new DevicePlacement(model.Weights, [gpu], () => Planner.Create(inventory, hardware, options with { CpuOnly = true }), warnings.Add);
        placement.Apply(Planner.Create(inventory, hardware, options));
        model.Placement = placement;
        return placement;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
