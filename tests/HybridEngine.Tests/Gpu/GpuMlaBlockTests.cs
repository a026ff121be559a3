using HybridEngine.Gpu;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// The resident absorbed MLA block of <see cref="GpuDevice"/> against the same block composed from the CPU device's
/// ops (<see cref="MlaBlockHarness"/>), with k_b/v_b as one stacked upload (one launch per product for all heads) or
/// head by head (one launch per head).
/// </summary>
public sealed unsafe class GpuMlaBlockTests(GpuTestDevice fixture) : IClassFixture<GpuTestDevice>
{
    private readonly GpuDevice _gpu = fixture.Device;

    /// <summary>
    /// Two steps (3 tokens at positions 0–2, then one at 3, which must attend over the rows the first step stored) with
    /// 3 heads, latent 16, nope 8, rope 4, value 8, through the low-rank query path (q_a, norm, q_b) and the plain one.
    /// F32 weights: GPU and CPU differ only in summation order (a few ulps per sum over widths ≤ 32) through at most
    /// five products, two norms and a softmax: far below 1e-4 of the output's largest magnitude, while a wrong head,
    /// stride, rotation or cache row moves outputs by a sizeable part of it.
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void MlaBlockMatchesTheCpuOps(bool lowRankQuery, bool stackedHeads)
    {
        var shape = new MlaTestShape(3, GgmlType.F32, GgmlType.F32, KvLoraRank: 16, NopeDim: 8, lowRankQuery, stackedHeads);
        AssertMatchesCpu(shape, lowRankQuery ? 5 : 6, [[0, 1, 2], [3]]);
    }

    /// <summary>
    /// Quantized k_b/v_b, stacked, with 1 and 3 heads, a 5-token step then a 1-token step: both q8_0, and a q4_K v_b
    /// (its 256-value blocks need a latent width of 256; k_b stays q8_0 so its [256, nope] heads stay small on the CPU
    /// accelerator). The CPU side multiplies by the dequantized weights in F32, so the math is the same and the 1e-4
    /// bound above holds (sums now run over up to 256 values: still a few ulps each); a wrong head offset in the
    /// stacked weights or a wrong head stride in x or y moves outputs by far more.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q8_0, 1)]
    [InlineData(GgmlType.Q8_0, 3)]
    [InlineData(GgmlType.Q4_K, 1)]
    [InlineData(GgmlType.Q4_K, 3)]
    public void Quantized_stacked_heads_match_the_cpu_ops(GgmlType vbType, int heads)
    {
        AssertMatchesCpu(Quantized(heads, vbType, stacked: true), 40 + heads, [[0, 1, 2, 3, 4], [5]]);
    }

    /// <summary>
    /// The one-launch product reads each head's weights, input and output slices exactly where the per-head launches
    /// did, and each output row is summed by the same kernel in the same order, so the two blocks agree bit for bit
    /// (tolerance 0), for q8_0 and a q4_K v_b.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    public void Stacked_heads_give_exactly_the_per_head_results(GgmlType vbType)
    {
        using var stacked = new MlaBlockHarness(_gpu, Quantized(3, vbType, stacked: true), 77);
        using var single = new MlaBlockHarness(_gpu, Quantized(3, vbType, stacked: false), 77);
        using var stackedCache = stacked.GpuCache(8);
        using var singleCache = single.GpuCache(8);
        foreach (int[] positions in new[] { new[] { 0, 1, 2, 3, 4 }, [5] })
        {
            float[] x = stacked.Input(positions.Length);
            Assert.Equal(single.RunGpu(singleCache, x, positions), stacked.RunGpu(stackedCache, x, positions));
        }
    }

    /// <summary>
    /// Kernel launches of one block call, 2 heads against 8, for 1 and 5 tokens: with stacked k_b/v_b the counts are
    /// equal (every per-head product is one launch); head by head the 8-head block launches 2·(8 − 2) more (one k_b and
    /// one v_b product per extra head), which shows the counter sees the products it is meant to count.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Launches_do_not_grow_with_the_heads(int tokens)
    {
        long stacked2 = Launches(2, true, tokens), stacked8 = Launches(8, true, tokens);
        long single2 = Launches(2, false, tokens), single8 = Launches(8, false, tokens);
        Assert.Equal(stacked2, stacked8);
        Assert.Equal(single2 + 2 * (8 - 2), single8);
        Assert.Equal(stacked2, single2 - 2 * (2 - 1));
    }

    /// <summary>
    /// The heads of one stacked upload share one device buffer: disposing the others must leave head 1 usable (the
    /// buffer goes with the last handle), and head 1 must compute what a separate upload of its own slab computes
    /// (exactly: same kernel, same bytes).
    /// </summary>
    [Fact]
    public void A_stacked_head_outlives_its_disposed_neighbours()
    {
        const int heads = 3, rows = 5, rowLength = 64;
        var info = QuantTypes.Get(GgmlType.Q8_0);
        var random = new Random(3);
        byte[] raw = GpuMatMulTests.RandomWeights(info, heads * rows, rowLength, random);
        float[] x = GpuMatMulTests.RandomFloats(random, 2 * rowLength), viaStack = new float[2 * rows], alone = new float[2 * rows];
        fixed (byte* p = raw)
        {
            var stack = _gpu.UploadHeads(new WeightMatrix(p, GgmlType.Q8_0, rows, rowLength), heads);
            Assert.Equal(raw.Length, stack.Sum(w => w.DeviceBytes));
            stack[0].Dispose();
            stack[2].Dispose();
            stack[0].Dispose();   // a second dispose must not release the buffer under head 1
            _gpu.MatMul(stack[1], x, 2, viaStack);
            using var own = _gpu.Upload(new WeightMatrix(p + rows * info.RowBytes(rowLength), GgmlType.Q8_0, rows, rowLength));
            _gpu.MatMul(own, x, 2, alone);
            stack[1].Dispose();
        }
        Assert.Equal(alone, viaStack);
    }

    // q8_0 k_b [latent, 32]; v_b of vbType [8, latent]; the latent one block of vbType wide.
    private static MlaTestShape Quantized(int heads, GgmlType vbType, bool stacked) =>
        new(heads, GgmlType.Q8_0, vbType, KvLoraRank: QuantTypes.Get(vbType).BlockSize, NopeDim: 32, LowRankQuery: true, stacked);

    private void AssertMatchesCpu(MlaTestShape shape, int seed, int[][] steps)
    {
        using var harness = new MlaBlockHarness(_gpu, shape, seed);
        using var gpuCache = harness.GpuCache(8);
        using var cpuCache = harness.CpuCache(8);
        foreach (int[] positions in steps)
        {
            float[] x = harness.Input(positions.Length);
            float[] y = harness.RunGpu(gpuCache, x, positions), expected = harness.RunCpu(cpuCache, x, positions);
            double bound = 1e-4 * expected.Max(MathF.Abs);
            for (int i = 0; i < y.Length; i++)
                Assert.True(Math.Abs(y[i] - expected[i]) <= bound, $"{shape} positions [{string.Join(",", positions)}], output {i}: {y[i]} vs {expected[i]}");
        }
    }

    private long Launches(int heads, bool stackedHeads, int tokens)
    {
        using var harness = new MlaBlockHarness(_gpu, Quantized(heads, GgmlType.Q8_0, stackedHeads), 9);
        using var cache = harness.GpuCache(8);
        float[] x = harness.Input(tokens);
        int[] positions = [.. Enumerable.Range(0, tokens)];
        long before = _gpu.KernelLaunches;
        harness.RunGpu(cache, x, positions);
        return _gpu.KernelLaunches - before;
    }
}
