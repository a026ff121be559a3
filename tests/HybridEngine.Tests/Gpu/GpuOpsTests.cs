using HybridEngine.Gpu;
using HybridEngine.Kernels;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>RMSNorm, RoPE (NORM, NEOX, YaRN), softmax and SwiGLU GPU kernels against their scalar CPU reference twins.</summary>
public sealed class GpuOpsTests(GpuTestDevice fixture) : IClassFixture<GpuTestDevice>
{
    private readonly GpuDevice _gpu = fixture.Device;

    /// <summary>Relative tolerance for the float ops: a few ulps of float (2⁻²⁴ ≈ 6e-8) times the reduction depth,
    /// plus room for the device's exp/sqrt (CUDA's fast intrinsics are within 2 ulp).</summary>
    private const float Relative = 2e-5f;

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(5, 37)]
    [InlineData(2, 300)]
    [InlineData(33, 45)]
    public void RmsNorm_matches_the_reference(int tokens, int width)
    {
        var random = new Random(width);
        float[] x = GpuMatMulTests.RandomFloats(random, tokens * width);
        float[] weight = GpuMatMulTests.RandomFloats(random, width);
        float[] y = new float[tokens * width], expected = new float[tokens * width];
        _gpu.RmsNorm(x, weight, y, tokens, 1e-5f);
        for (int t = 0; t < tokens; t++)
            RmsNorm.Reference(x.AsSpan(t * width, width), weight, expected.AsSpan(t * width, width), 1e-5f);
        AssertClose(expected, y);
    }

    [Theory]
    [InlineData(1, 1, 1f)]
    [InlineData(3, 5, 0.125f)]
    [InlineData(4, 37, 1f)]
    [InlineData(2, 257, 3f)]
    [InlineData(33, 70, 0.5f)]
    public void Softmax_matches_the_reference(int rows, int width, float scale)
    {
        var random = new Random(rows * 1000 + width);
        float[] x = GpuMatMulTests.RandomFloats(random, rows * width);
        for (int i = 0; i < x.Length; i++) x[i] *= 8;   // spread so the max shift matters
        float[] expected = new float[x.Length];
        for (int r = 0; r < rows; r++) Softmax.Reference(x.AsSpan(r * width, width), expected.AsSpan(r * width, width), scale, width);
        _gpu.Softmax(x, rows, scale);
        AssertClose(expected, x);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1000)]
    [InlineData(33 * 37)]
    public void SwiGlu_matches_the_reference(int n)
    {
        var random = new Random(n);
        float[] gate = GpuMatMulTests.RandomFloats(random, n), up = GpuMatMulTests.RandomFloats(random, n);
        for (int i = 0; i < n; i++) gate[i] *= 10;
        float[] h = new float[n];
        _gpu.SwiGlu(gate, up, h);
        float[] expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = SwiGlu.Reference(gate[i], up[i]);
        AssertClose(expected, h);
    }

    public static TheoryData<string> RopeCases() => ["norm", "neox", "yarn-norm", "yarn-neox", "partial-offset"];

    /// <summary>
    /// Both sides rotate by the same angles (<c>RopeParameters.ComputeRow</c>), so the only difference is float
    /// rounding of two products and a sum per value: tolerance 1e-6 relative to the head's largest value.
    /// </summary>
    [Theory]
    [MemberData(nameof(RopeCases))]
    public void Rope_matches_the_reference(string name)
    {
        var (parameters, headStride, offset) = name switch
        {
            "norm" => (new RopeParameters { RotaryDims = 8, Mode = RopeMode.Norm }, 8, 0),
            "neox" => (new RopeParameters { RotaryDims = 8, Mode = RopeMode.Neox }, 8, 0),
            "yarn-norm" => (RopeParameters.Yarn(16, RopeMode.Norm, 10000f, 40f, 4096), 16, 0),
            "yarn-neox" => (RopeParameters.Yarn(16, RopeMode.Neox, 500000f, 8f, 8192), 16, 0),
            _ => (new RopeParameters { RotaryDims = 4, Mode = RopeMode.Norm }, 12, 6),   // MLA-style q_pe slice
        };
        const int tokens = 3, heads = 5;
        int[] positions = [0, 17, 40000];
        var random = new Random(name.Length);
        float[] x = GpuMatMulTests.RandomFloats(random, tokens * heads * headStride);
        float[] expected = (float[])x.Clone();
        for (int t = 0; t < tokens; t++)
            Rope.Reference(expected.AsSpan(t * heads * headStride, heads * headStride), heads, headStride, positions[t], parameters, offset);
        _gpu.Rope(x, tokens, heads, headStride, positions, parameters, offset);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(expected[i] - x[i]) <= 1e-6f * 2, $"{name} [{i}]: gpu {x[i]} vs {expected[i]}");
        Assert.NotEqual(GpuMatMulTests.RandomFloats(new Random(name.Length), x.Length), x);   // it did rotate
    }

    /// <summary>
    /// One decode token and a 33-token batch (one more than a warp) at scattered positions, heads not a power of two;
    /// same angles on both sides, so the same 2e-6 bound as above.
    /// </summary>
    [Theory]
    [InlineData(1, RopeMode.Neox)]
    [InlineData(33, RopeMode.Norm)]
    [InlineData(33, RopeMode.Neox)]
    public void Rope_matches_the_reference_for_single_tokens_and_batches(int tokens, RopeMode mode)
    {
        var parameters = RopeParameters.Yarn(24, mode, 10000f, 16f, 4096);
        const int heads = 3, headStride = 26;
        int[] positions = Enumerable.Range(0, tokens).Select(t => 4000 + 997 * t).ToArray();
        var random = new Random(tokens);
        float[] x = GpuMatMulTests.RandomFloats(random, tokens * heads * headStride);
        float[] expected = (float[])x.Clone();
        for (int t = 0; t < tokens; t++)
            Rope.Reference(expected.AsSpan(t * heads * headStride, heads * headStride), heads, headStride, positions[t], parameters, 2);
        _gpu.Rope(x, tokens, heads, headStride, positions, parameters, offset: 2);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(expected[i] - x[i]) <= 1e-6f * 2, $"{tokens} {mode} [{i}]: gpu {x[i]} vs {expected[i]}");
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Relative * Math.Abs(expected[i]) + 1e-7f,
                $"[{i}]: gpu {actual[i]} vs {expected[i]}");
    }
}
