using HybridEngine.Gpu;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>The resident absorbed MLA block of <see cref="GpuDevice"/> against the same block composed from the CPU device's ops.</summary>
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
    [InlineData(true)]
    [InlineData(false)]
    public void MlaBlockMatchesTheCpuOps(bool lowRankQuery)
    {
        const int hidden = 32, heads = 3, qr = 16, kr = 16, nope = 8, ropeDim = 4, dv = 8, context = 8;
        const int dk = nope + ropeDim, cw = kr + ropeDim;
        var random = new Random(lowRankQuery ? 5 : 6);
        float[] R(int n) => GpuMatMulTests.RandomFloats(random, n);
        float[] qA = R(qr * hidden), qANorm = R(qr), qB = R(heads * dk * qr), q = R(heads * dk * hidden);
        float[] kvA = R(cw * hidden), kvANorm = R(kr), output = R(hidden * heads * dv);
        float[][] kB = [.. Enumerable.Range(0, heads).Select(_ => R(kr * nope))], vB = [.. Enumerable.Range(0, heads).Select(_ => R(dv * kr))];
        var rope = new RopeParameters { RotaryDims = ropeDim, Mode = RopeMode.Norm, FreqBase = 10000f };
        float scale = 1f / MathF.Sqrt(dk), eps = 1e-6f;
        var cpu = new CpuDevice();
        var owned = new List<IDeviceWeights>();
        var pins = new List<System.Runtime.InteropServices.GCHandle>();
        (IDeviceWeights Gpu, IDeviceWeights Cpu) Up(float[] values, int rows, int rowLength)
        {
            var pin = System.Runtime.InteropServices.GCHandle.Alloc(values, System.Runtime.InteropServices.GCHandleType.Pinned);
            pins.Add(pin);
            var m = new WeightMatrix((byte*)pin.AddrOfPinnedObject(), GgmlType.F32, rows, rowLength);
            var pair = (_gpu.Upload(m), cpu.Upload(m));
            owned.Add(pair.Item1);
            owned.Add(pair.Item2);
            return pair;
        }
        try
        {
            var (gqA, cqA) = Up(qA, qr, hidden);
            var (gqB, cqB) = Up(qB, heads * dk, qr);
            var (gq, cq) = Up(q, heads * dk, hidden);
            var (gkvA, ckvA) = Up(kvA, cw, hidden);
            var (go, co) = Up(output, hidden, heads * dv);
            var kBs = kB.Select(k => Up(k, kr, nope)).ToArray();
            var vBs = vB.Select(v => Up(v, dv, kr)).ToArray();
            var block = new MlaDeviceBlock(lowRankQuery ? gqA : null, lowRankQuery ? qANorm : null, lowRankQuery ? gqB : null,
                lowRankQuery ? null : gq, gkvA, kvANorm, [.. kBs.Select(p => p.Gpu)], [.. vBs.Select(p => p.Gpu)], go,
                heads, kr, nope, ropeDim, dv, rope, scale, eps);
            using var gpuCache = _gpu.AllocateKvCache(1, context, cw, 0);
            using var cpuCache = cpu.AllocateKvCache(1, context, cw, 0);
            foreach (int[] positions in new[] { new[] { 0, 1, 2 }, new[] { 3 } })
            {
                int tokens = positions.Length;
                float[] x = R(tokens * hidden), y = new float[tokens * hidden];
                _gpu.MlaBlock(block, gpuCache, 0, x, tokens, positions, y);

                float[] query = new float[tokens * heads * dk], kv = new float[tokens * cw];
                if (lowRankQuery)
                {
                    float[] latentQ = new float[tokens * qr];
                    cpu.MatMul(cqA, x, tokens, latentQ);
                    cpu.RmsNorm(latentQ, qANorm, latentQ, tokens, eps);
                    cpu.MatMul(cqB, latentQ, tokens, query);
                }
                else cpu.MatMul(cq, x, tokens, query);
                cpu.MatMul(ckvA, x, tokens, kv);
                for (int t = 0; t < tokens; t++) cpu.RmsNorm(kv.AsSpan(t * cw, kr), kvANorm, kv.AsSpan(t * cw, kr), 1, eps);
                cpu.Rope(query, tokens, heads, dk, positions, rope, offset: nope);
                cpu.Rope(kv, tokens, 1, cw, positions, rope, offset: kr);
                cpu.WriteKv(cpuCache, 0, kv, [], positions);
                float[] absorbed = new float[tokens * heads * cw], nopePart = new float[nope], product = new float[kr];
                for (int t = 0; t < tokens; t++)
                    for (int h = 0; h < heads; h++)
                    {
                        query.AsSpan((t * heads + h) * dk, nope).CopyTo(nopePart);
                        cpu.MatMul(kBs[h].Cpu, nopePart, 1, product);
                        product.CopyTo(absorbed.AsSpan((t * heads + h) * cw, kr));
                        query.AsSpan((t * heads + h) * dk + nope, ropeDim).CopyTo(absorbed.AsSpan((t * heads + h) * cw + kr, ropeDim));
                    }
                float[] latent = new float[tokens * heads * kr], attention = new float[tokens * heads * dv], expected = new float[tokens * hidden];
                cpu.Attention(cpuCache, 0, absorbed, tokens, positions, new CausalAttention.Layout(heads, 1, cw, kr, cw, cw), scale, latent);
                for (int t = 0; t < tokens; t++)
                    for (int h = 0; h < heads; h++)
                        cpu.MatMul(vBs[h].Cpu, latent.AsSpan((t * heads + h) * kr, kr), 1, attention.AsSpan((t * heads + h) * dv, dv));
                cpu.MatMul(co, attention, tokens, expected);

                double bound = 1e-4 * expected.Max(MathF.Abs);
                for (int i = 0; i < y.Length; i++)
                    Assert.True(Math.Abs(y[i] - expected[i]) <= bound, $"positions [{string.Join(",", positions)}], output {i}: {y[i]} vs {expected[i]}");
            }
        }
        finally
        {
            foreach (var w in owned) w.Dispose();
            foreach (var pin in pins) pin.Free();
        }
    }
}
