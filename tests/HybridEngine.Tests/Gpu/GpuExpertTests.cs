using HybridEngine.Gpu;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// One expert's feed-forward <c>y = down · (silu(gate·x) ⊙ up·x)</c> on a token group: the GPU's fused gate/up kernel
/// (and its two-product path for mixed types) against a double-precision reference on the dequantized weights, and
/// the CPU device against the MoE block's own call sequence.
/// </summary>
public sealed unsafe class GpuExpertTests(GpuTestDevice fixture) : IClassFixture<GpuTestDevice>
{
    private const double Unit = 1.0 / (1 << 24);

    private readonly GpuDevice _gpu = fixture.Device;

    /// <summary>
    /// (gate, up, down types, tokens, hidden, ff): fused for one type per family, the two-product path when gate ≠ up;
    /// widths a block or two (the CPU accelerator runs every warp in threads, so the 33-token case stays narrow), and
    /// one hidden width of 2112 that the fused kernel stages through shared memory in two chunks, with 36 rows (not a
    /// multiple of its 8 rows per group).
    /// </summary>
    public static TheoryData<GgmlType, GgmlType, GgmlType, int, int, int> Cases() => new()
    {
        { GgmlType.Q4_K, GgmlType.Q4_K, GgmlType.Q6_K, 1, 256, 256 },
        { GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q4_0, 33, 32, 64 },
        { GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0, 3, 96, 160 },
        { GgmlType.IQ4_XS, GgmlType.IQ4_XS, GgmlType.Q5_K, 2, 256, 256 },
        { GgmlType.F16, GgmlType.F16, GgmlType.F32, 5, 40, 72 },
        { GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q8_0, 3, 256, 256 },
        { GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.F32, 2, 2112, 36 },
    };

    /// <summary>
    /// Float error bound against exact sums: each of g, u is off by ε = (K + 32)·u·Σ|w·x| (as the matmul tests), so
    /// h = silu(g)·u by |silu'(g)|·ε_g·|u| + |silu(g)|·ε_u (|silu'| ≤ 1.1) plus 2 ulps; y adds Σ|down|·Δh and its own
    /// (ff + 32)·u·Σ|down·h|. A wrong row, a swapped gate/up or a missing SwiGLU is off by orders more.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Gpu_expert_product_matches_the_dequantized_reference(GgmlType gateType, GgmlType upType, GgmlType downType, int tokens,
        int hidden, int ff)
    {
        var random = new Random((int)gateType * 100 + (int)downType * 10 + tokens);
        var (gateRaw, gate) = Weights(gateType, ff, hidden, random);
        var (upRaw, up) = Weights(upType, ff, hidden, random);
        var (downRaw, down) = Weights(downType, hidden, ff, random);
        float[] x = GpuMatMulTests.RandomFloats(random, tokens * hidden);
        float[] y = new float[tokens * hidden];
        fixed (byte* pg = gateRaw)
        fixed (byte* pu = upRaw)
        fixed (byte* pd = downRaw)
        {
            using var g = _gpu.Upload(new WeightMatrix(pg, gateType, ff, hidden));
            using var u = _gpu.Upload(new WeightMatrix(pu, upType, ff, hidden));
            using var d = _gpu.Upload(new WeightMatrix(pd, downType, hidden, ff));
            _gpu.ExpertProduct(g, u, d, x, tokens, y);
        }

        double[] h = new double[ff], dh = new double[ff];
        for (int t = 0; t < tokens; t++)
        {
            for (int n = 0; n < ff; n++)
            {
                var (gv, gm) = Dot(gate, n * hidden, x, t * hidden, hidden);
                var (uv, um) = Dot(up, n * hidden, x, t * hidden, hidden);
                double silu = gv / (1 + Math.Exp(-gv));
                h[n] = silu * uv;
                dh[n] = 1.1 * (hidden + 32) * Unit * gm * Math.Abs(uv) + Math.Abs(silu) * (hidden + 32) * Unit * um + 2 * Unit * Math.Abs(h[n]);
            }
            for (int m = 0; m < hidden; m++)
            {
                double exact = 0, magnitude = 0, propagated = 0;
                for (int n = 0; n < ff; n++)
                {
                    double w = down[m * ff + n];
                    exact += w * h[n];
                    magnitude += Math.Abs(w * h[n]);
                    propagated += Math.Abs(w) * dh[n];
                }
                double tolerance = propagated + (ff + 32) * Unit * magnitude + 1e-6;
                Assert.True(Math.Abs(y[t * hidden + m] - exact) <= tolerance,
                    $"{gateType}/{upType}/{downType} t={t} m={m}: gpu {y[t * hidden + m]} vs {exact} (tol {tolerance:g3})");
            }
        }
    }

    [Fact]
    public void Cpu_expert_product_is_exactly_the_moe_block_sequence()
    {
        using var cpu = new CpuDevice();
        var random = new Random(12);
        const int hidden = 256, ff = 256;
        foreach (int tokens in new[] { 1, 33 })
        {
            var (gateRaw, _) = Weights(GgmlType.Q4_K, ff, hidden, random);
            var (upRaw, _) = Weights(GgmlType.Q4_K, ff, hidden, random);
            var (downRaw, _) = Weights(GgmlType.Q6_K, hidden, ff, random);
            float[] x = GpuMatMulTests.RandomFloats(random, tokens * hidden);
            float[] y = new float[tokens * hidden], expected = new float[tokens * hidden];
            fixed (byte* pg = gateRaw)
            fixed (byte* pu = upRaw)
            fixed (byte* pd = downRaw)
            {
                var (gm, um, dm) = (new WeightMatrix(pg, GgmlType.Q4_K, ff, hidden), new WeightMatrix(pu, GgmlType.Q4_K, ff, hidden),
                    new WeightMatrix(pd, GgmlType.Q6_K, hidden, ff));
                using var g = cpu.Upload(gm);
                using var u = cpu.Upload(um);
                using var d = cpu.Upload(dm);
                cpu.ExpertProduct(g, u, d, x, tokens, y);

                byte[] scratch = new byte[MatMul.ScratchBytes(dm, tokens) + MatMul.ScratchBytes(gm, tokens)];
                float[] gate = new float[tokens * ff], up = new float[tokens * ff];
                cpu.MatMul(gm, x, tokens, gate, scratch);
                cpu.MatMul(um, x, tokens, up, scratch);
                SwiGlu.Apply(gate, up, gate, cpu.Level);
                cpu.MatMul(dm, gate, tokens, expected, scratch);
            }
            Assert.Equal(expected, y);
            Assert.Contains(y, v => v != 0);
        }
    }

    [Fact]
    public void Mismatched_shapes_are_argument_errors_and_faults_are_device_errors()
    {
        var random = new Random(4);
        var (raw, _) = Weights(GgmlType.Q8_0, 64, 32, random);
        float[] x = new float[32], y = new float[64];
        fixed (byte* p = raw)
        {
            using var square = _gpu.Upload(new WeightMatrix(p, GgmlType.Q8_0, 32, 32));
            using var wide = _gpu.Upload(new WeightMatrix(p, GgmlType.Q8_0, 64, 32));
            Assert.Throws<ArgumentException>(() => _gpu.ExpertProduct(wide, wide, wide, x, 1, y));   // down takes 32, not 64
            _gpu.FailNextOp = true;
            Assert.Equal("expert", Assert.Throws<ComputeDeviceException>(() => _gpu.ExpertProduct(square, square, square, x, 1, y)).Operation);
        }
    }

    private static (byte[] Raw, float[] Values) Weights(GgmlType type, int rows, int rowLength, Random random)
    {
        var info = QuantTypes.Get(type);
        byte[] raw = GpuMatMulTests.RandomWeights(info, rows, rowLength, random);
        return (raw, GpuMatMulTests.Dequantized(info, raw, rows, rowLength));
    }

    /// <summary>Σ w·x over <paramref name="n"/> values in double, and Σ|w·x| (the scale of its float rounding).</summary>
    internal static (double Value, double Magnitude) Dot(float[] w, int at, float[] x, int xAt, int n)
    {
        double sum = 0, magnitude = 0;
        for (int k = 0; k < n; k++)
        {
            double term = (double)w[at + k] * x[xAt + k];
            sum += term;
            magnitude += Math.Abs(term);
        }
        return (sum, magnitude);
    }
}
