using HybridEngine.Kernels;
using HybridEngine.Kernels.Dot;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Kernels.Dot;

/// <summary>
/// The one-row × several-token kernels (<see cref="DotKernels.GetDot4"/>): for every count from 1 to the kernel's
/// <see cref="DotKernels.MultiTokenWidth"/>, each output against the scalar twin's dot with that token, with strided
/// activations and outputs, and nothing written between or after the output slots.
/// </summary>
public class Dot4KernelTests
{
    // The same budget as DotKernelTests: integer block sums are exact, only float accumulation order differs.
    private const double FloatRelative = 1e-5;

    public static IEnumerable<object[]> Cases() =>
        from t in DotTestData.AllTypes from l in Simd.Available
        where DotKernels.HasDot4(t, l) select new object[] { t, l };

    [Fact]
    public void Q4_K_has_an_eight_token_kernel_on_avx512()
    {
        // Guards the Cases list above against silently becoming empty on the machines that have the kernel.
        Assert.Equal(Simd.Best >= SimdLevel.Avx512, DotKernels.HasDot4(GgmlType.Q4_K, SimdLevel.Avx512));
        Assert.Equal(Simd.Best >= SimdLevel.Avx512 ? 8 : 0, DotKernels.MultiTokenWidth(GgmlType.Q4_K, SimdLevel.Avx512));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public unsafe void Each_token_matches_the_scalar_twin(GgmlType type, SimdLevel level)
    {
        var info = QuantTypes.Get(type);
        var kernel = DotKernels.GetDot4(type, level);
        int width = DotKernels.MultiTokenWidth(type, level);
        foreach (int blocks in DotTestData.BlockCounts(type))
        {
            int n = blocks * info.BlockSize;
            var w = DotTestData.RandomWeights(type, blocks, 17 + blocks);
            var rows = new byte[width][];
            for (int t = 0; t < width; t++) rows[t] = DotTestData.Quantize(type, DotTestData.Activations(n, 50 * blocks + t));
            int stride = rows[0].Length + 12;   // a gap between rows: the kernel must use the stride it is given
            var act = new byte[width * stride];
            for (int t = 0; t < width; t++) rows[t].CopyTo(act, t * stride);
            const int yStride = 3;
            for (int tokens = 1; tokens <= width; tokens++)
            {
                var y = Enumerable.Repeat(float.NaN, width * yStride).ToArray();
                fixed (byte* pw = w)
                fixed (byte* pa = act)
                fixed (float* py = y)
                {
                    kernel(pw, pa, stride, tokens, blocks, py, yStride);
                }
                for (int t = 0; t < width; t++)
                {
                    if (t >= tokens)
                    {
                        Assert.True(float.IsNaN(y[t * yStride]), $"{tokens} tokens wrote slot {t}");
                        continue;
                    }
                    var (_, absSum) = DotTestData.Oracle(DotTestData.DequantizeWeights(type, w, n), DotTestData.DequantizeActivations(type, rows[t], n));
                    float scalar = DotKernelTests.Dot(type, SimdLevel.Scalar, w, rows[t], blocks);
                    Assert.True(Math.Abs(y[t * yStride] - scalar) <= FloatRelative * absSum + 1e-30,
                        $"{info.Name} {level} blocks={blocks} token {t}: scalar {scalar:R}, dot4 {y[t * yStride]:R}");
                    for (int gap = 1; gap < yStride; gap++) Assert.True(float.IsNaN(y[t * yStride + gap]), $"wrote outside slot {t}");
                }
            }
        }
    }
}
