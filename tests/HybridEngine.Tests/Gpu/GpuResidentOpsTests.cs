using System.Runtime.InteropServices;
using HybridEngine.Gpu;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// The resident ops of <see cref="GpuDevice"/>: the whole GQA attention block against the same block composed from the
/// CPU device's ops, and a batch of experts launched without waiting against one expert product at a time.
/// </summary>
public sealed unsafe class GpuResidentOpsTests(GpuTestDevice fixture) : IClassFixture<GpuTestDevice>
{
    private readonly GpuDevice _gpu = fixture.Device;

    /// <summary>
    /// Two steps (3 tokens at positions 0–2, then one at 3, which must attend over the rows the first step stored) with
    /// 4 query heads over 2 KV heads of 8: NORM RoPE without head norms (llama), NEOX with q/k norms (qwen3moe).
    /// F32 weights: the GPU and CPU differ only in summation order, a few ulps per sum over widths ≤ 32; through two
    /// products, the norms and a softmax that stays far below 1e-4 of the output's largest magnitude, while a wrong
    /// head, rotation or cache row moves outputs by a sizeable part of it.
    /// </summary>
    [Theory]
    [InlineData(RopeMode.Norm, false)]
    [InlineData(RopeMode.Neox, true)]
    public void AttentionBlockMatchesTheCpuOps(RopeMode mode, bool headNorms)
    {
        const int hidden = 32, heads = 4, kvHeads = 2, hd = 8, context = 8;
        var random = new Random(17 + (int)mode);
        float[] wq = GpuMatMulTests.RandomFloats(random, heads * hd * hidden), wk = GpuMatMulTests.RandomFloats(random, kvHeads * hd * hidden);
        float[] wv = GpuMatMulTests.RandomFloats(random, kvHeads * hd * hidden), wo = GpuMatMulTests.RandomFloats(random, hidden * heads * hd);
        float[]? qNorm = headNorms ? GpuMatMulTests.RandomFloats(random, hd) : null, kNorm = headNorms ? GpuMatMulTests.RandomFloats(random, hd) : null;
        var rope = new RopeParameters { RotaryDims = hd, Mode = mode, FreqBase = 10000f };
        float scale = 1f / MathF.Sqrt(hd), eps = 1e-6f;
        var cpu = new CpuDevice();
        fixed (float* pq = wq) fixed (float* pk = wk) fixed (float* pv = wv) fixed (float* po = wo)
        {
            var (mq, mk, mv, mo) = (F32(pq, heads * hd, hidden), F32(pk, kvHeads * hd, hidden), F32(pv, kvHeads * hd, hidden), F32(po, hidden, heads * hd));
            using IDeviceWeights gq = _gpu.Upload(mq), gk = _gpu.Upload(mk), gv = _gpu.Upload(mv), go = _gpu.Upload(mo);
            using IDeviceWeights cq = cpu.Upload(mq), ck = cpu.Upload(mk), cv = cpu.Upload(mv), co = cpu.Upload(mo);
            using var gpuCache = _gpu.AllocateKvCache(1, context, kvHeads * hd, kvHeads * hd);
            using var cpuCache = cpu.AllocateKvCache(1, context, kvHeads * hd, kvHeads * hd);
            var block = new GqaDeviceBlock(gq, gk, gv, go, qNorm, kNorm, eps, heads, kvHeads, hd, rope, scale);
            foreach (int[] positions in new[] { new[] { 0, 1, 2 }, new[] { 3 } })
            {
                int tokens = positions.Length;
                float[] x = GpuMatMulTests.RandomFloats(random, tokens * hidden);
                float[] y = new float[tokens * hidden];
                _gpu.AttentionBlock(block, gpuCache, 0, x, tokens, positions, y);

                float[] q = new float[tokens * heads * hd], k = new float[tokens * kvHeads * hd], v = new float[tokens * kvHeads * hd];
                float[] attention = new float[tokens * heads * hd], expected = new float[tokens * hidden];
                cpu.MatMul(cq, x, tokens, q);
                cpu.MatMul(ck, x, tokens, k);
                cpu.MatMul(cv, x, tokens, v);
                if (qNorm is not null) cpu.RmsNorm(q, qNorm, q, tokens * heads, eps);
                if (kNorm is not null) cpu.RmsNorm(k, kNorm, k, tokens * kvHeads, eps);
                cpu.Rope(q, tokens, heads, hd, positions, rope);
                cpu.Rope(k, tokens, kvHeads, hd, positions, rope);
                cpu.WriteKv(cpuCache, 0, k, v, positions);
                cpu.Attention(cpuCache, 0, q, tokens, positions, new CausalAttention.Layout(heads, kvHeads, hd, hd, kvHeads * hd, kvHeads * hd), scale, attention);
                cpu.MatMul(co, attention, tokens, expected);

                double bound = 1e-4 * expected.Max(MathF.Abs);
                for (int i = 0; i < y.Length; i++)
                    Assert.True(Math.Abs(y[i] - expected[i]) <= bound, $"positions [{string.Join(",", positions)}], output {i}: {y[i]} vs {expected[i]}");
            }
        }
    }

    /// <summary>
    /// Three experts of a batch (rows 0–1, 2, 3–5 of six) through Begin/Queue/End give exactly what three expert
    /// products give (the same kernels on the same rows), with one copy up and one down for the whole batch.
    /// </summary>
    [Fact]
    public void ExpertBatchEqualsOneProductPerExpertWithOneCopyEachWay()
    {
        const int hidden = 32, ff = 48;
        var random = new Random(3);
        int[] starts = [0, 2, 3, 6];
        var raw = new float[3][][];
        for (int e = 0; e < 3; e++)
            raw[e] = [GpuMatMulTests.RandomFloats(random, ff * hidden), GpuMatMulTests.RandomFloats(random, ff * hidden), GpuMatMulTests.RandomFloats(random, hidden * ff)];
        var handles = new List<GCHandle>();
        var experts = new IDeviceWeights[3][];
        try
        {
            for (int e = 0; e < 3; e++)
            {
                var pinned = raw[e].Select(a => GCHandle.Alloc(a, GCHandleType.Pinned)).ToArray();
                handles.AddRange(pinned);
                experts[e] =
                [
                    _gpu.Upload(F32((float*)pinned[0].AddrOfPinnedObject(), ff, hidden)),
                    _gpu.Upload(F32((float*)pinned[1].AddrOfPinnedObject(), ff, hidden)),
                    _gpu.Upload(F32((float*)pinned[2].AddrOfPinnedObject(), hidden, ff)),
                ];
            }
            float[] x = GpuMatMulTests.RandomFloats(random, 6 * hidden);
            float[] expected = new float[6 * hidden];
            for (int e = 0; e < 3; e++)
            {
                int rows = starts[e + 1] - starts[e];
                _gpu.ExpertProduct(experts[e][0], experts[e][1], experts[e][2], x.AsSpan(starts[e] * hidden, rows * hidden), rows,
                    expected.AsSpan(starts[e] * hidden, rows * hidden));
            }

            float[] y = new float[6 * hidden];
            _gpu.Transfers.Reset();
            _gpu.BeginExperts(x, 6, hidden);
            for (int e = 0; e < 3; e++) _gpu.QueueExpert(experts[e][0], experts[e][1], experts[e][2], starts[e], starts[e + 1] - starts[e]);
            _gpu.EndExperts(y);

            Assert.Equal(expected, y);
            Assert.Equal(1, _gpu.Transfers.ToDevice);
            Assert.Equal(1, _gpu.Transfers.ToHost);
            Assert.Equal(2L * 6 * hidden * sizeof(float), _gpu.Transfers.Bytes);
        }
        finally
        {
            foreach (var expert in experts) if (expert is not null) foreach (var w in expert) w.Dispose();
            foreach (var h in handles) h.Free();
        }
    }

    private static WeightMatrix F32(float* data, int rows, int rowLength) => new((byte*)data, GgmlType.F32, rows, rowLength);
}
