using HybridEngine.Kernels;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Kernels;

/// <summary>The row kernels against ggml's own CPU ops, run as one-op graphs.</summary>
public class GgmlOracleTests
{
    [Fact]
    public void RmsNormMatchesGgmlBitForBit()
    {
        foreach (int n in new[] { 1, 7, 64, 255, 2048, 7168 })
        {
            const int rows = 3;
            float[] x = KernelTestData.Uniform(n, rows * n, -6f, 6f);
            float[] ggml = GgmlOps.RmsNorm(x, n, 1e-6f);
            float[] ones = Enumerable.Repeat(1f, n).ToArray();
            var twin = new float[rows * n];
            for (int r = 0; r < rows; r++) RmsNorm.Reference(x.AsSpan(r * n, n), ones, twin.AsSpan(r * n, n), 1e-6f);
            // Same operation order (float squares, sequential double sum, float mean and scale): identical floats.
            Assert.Equal(ggml, twin);
            foreach (SimdLevel level in Simd.Available)
            {
                var y = new float[rows * n];
                RmsNorm.ApplyRows(x, ones, y, rows, 1e-6f, level);
                KernelTestData.AssertClose(ggml, y, 1e-30, 5e-7, $"{level} n={n}");
            }
        }
    }

    [Theory]
    [InlineData(RopeMode.Norm)]
    [InlineData(RopeMode.Neox)]
    public void PlainRopeMatchesGgml(RopeMode mode)
    {
        const int headDim = 96, heads = 3, nDims = 64;
        int[] positions = [0, 1, 5, 100, 1000, 4095];
        float[] x = KernelTestData.Uniform(2, positions.Length * heads * headDim, -1f, 1f);
        float[] ggml = GgmlOps.RopeExt(x, headDim, heads, positions, nDims, (int)mode, 0, 10000f, 1f, 0f, 1f, 32f, 1f);
        var parameters = new RopeParameters { RotaryDims = nDims, Mode = mode };
        float[] ours = (float[])x.Clone();
        Rope.ApplyRows(ours, positions.Length, heads, headDim, positions, new RopeTable(parameters, 4096), Simd.Best);
        // Same float angle recurrence; the native build may contract x0·c − x1·s into an FMA or use another cosf/sinf,
        // which moves results by about one ulp (observed ≤ 1.2e-7 on unit-range inputs, ~12% of elements differ).
        KernelTestData.AssertClose(ggml, ours, 2.5e-7, 0, $"{mode}");
    }

    [Theory]
    [InlineData(RopeMode.Norm)]
    [InlineData(RopeMode.Neox)]
    public void DeepSeekYarnRopeMatchesGgml(RopeMode mode)
    {
        const int headDim = 192, heads = 2, nDims = 64;
        int[] positions = [0, 3, 77, 4096, 20000, 163839];
        float attn = RopeParameters.UnitMagnitudeAttnFactor(1f / 40f);
        float[] x = KernelTestData.Uniform(3, positions.Length * heads * headDim, -1f, 1f);
        float[] ggml = GgmlOps.RopeExt(x, headDim, heads, positions, nDims, (int)mode, 4096, 10000f, 1f / 40f, 1f, attn, 32f, 1f);
        var parameters = RopeParameters.Yarn(nDims, mode, 10000f, 40f, 4096, attn);
        float[] ours = (float[])x.Clone();
        for (int t = 0; t < positions.Length; t++)
        {
            // Reference computes the angles directly, so no 163840-position table is needed.
            Rope.Reference(ours.AsSpan(t * heads * headDim, heads * headDim), heads, headDim, positions[t], parameters);
        }
        // Pairs ≤ low and ≥ high take one angle exactly (blend weight 1 or 0), but the blended pairs 11..22 reach
        // angles of ~10³ rad at the last position, where an FMA-contracted blend in the native build can move θ by
        // an ulp (~6e-5 rad). Observed worst difference on unit-range inputs: 1.8e-6.
        KernelTestData.AssertClose(ggml, ours, 1e-5, 0, $"{mode}");
        var (low, high) = GgmlOps.RopeYarnCorrDims(nDims, 4096, 10000f, 32f, 1f);
        Assert.Equal((low, high), parameters.CorrectionDims());
    }

    [Fact]
    public void SoftmaxMatchesGgml()
    {
        foreach (int n in new[] { 1, 5, 64, 257, 4096 })
        {
            float[] x = KernelTestData.Uniform(n, 2 * n, -20f, 20f);
            float[] ggml = GgmlOps.SoftMax(x, n, 0.1352338f);
            var ours = new float[2 * n];
            for (int r = 0; r < 2; r++) Softmax.Apply(x.AsSpan(r * n, n), ours.AsSpan(r * n, n), 0.1352338f, n, Simd.Best);
            // ggml uses its own vector expf; both are within a couple of ulps of the true value (observed ≤ 2.7e-7).
            KernelTestData.AssertClose(ggml, ours, 1e-37, 1e-6, $"n={n}");
        }
    }

    [Fact]
    public void SiluMatchesGgml()
    {
        float[] x = KernelTestData.Uniform(4, 4099, -30f, 30f);
        float[] ggml = GgmlOps.Silu(x);
        var ours = new float[x.Length];
        Silu.Apply(x, ours, Simd.Best);
        // Different vector exp implementations, a few ulps apart (observed ≤ 2.4e-7 relative).
        KernelTestData.AssertClose(ggml, ours, 1e-37, 1e-6, "silu");
    }
}
