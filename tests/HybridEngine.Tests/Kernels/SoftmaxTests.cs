using Xunit;
using HybridEngine.Kernels;

namespace HybridEngine.Tests.Kernels;

public class SoftmaxTests
{
    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void EveryPathMatchesScalarTwin(SimdLevel level)
    {
        foreach (int n in KernelTestData.Lengths())
        {
            float[] x = KernelTestData.Uniform(n, n, -15f, 15f);
            foreach (int valid in new[] { n, n / 2, n == 0 ? 0 : n - 1 })
            {
                foreach (float scale in new[] { 1f, 0.1352338f })
                {
                    var expected = new float[n];
                    var actual = new float[n];
                    Softmax.Reference(x, expected, scale, valid);
                    Softmax.Apply(x, actual, scale, valid, level);
                    // Vector exp vs MathF.Exp (an ulp or two) and a different double-sum order: a few ulps relative.
                    KernelTestData.AssertClose(expected, actual, 1e-37, 2e-6, $"{level} n={n} valid={valid} scale={scale}");
                }
            }
        }
    }

    [Fact]
    public void ScalarTwinMatchesDoublePrecision()
    {
        foreach (int n in KernelTestData.Lengths().Where(n => n > 0))
        {
            float[] x = KernelTestData.Uniform(3 * n, n, -20f, 20f);
            const float scale = 0.7f;
            double max = x.Max(v => (double)(scale * v));
            double[] e = x.Select(v => Math.Exp((double)(scale * v) - max)).ToArray();
            double sum = e.Sum();
            double[] exact = e.Select(v => v / sum).ToArray();
            var p = new float[n];
            Softmax.Reference(x, p, scale, n);
            // The logit is rounded to float before the shift (≤ 0.5 ulp of |z| ≤ 14, ≈ 5e-7 absolute in the exponent),
            // then expf and one product: relative error ≲ 1e-6.
            KernelTestData.AssertClose(exact, p, 1e-37, 2e-6, $"n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void MaskedTailIsZeroAndValidPartSumsToOne(SimdLevel level)
    {
        float[] x = KernelTestData.Uniform(77, 300, -5f, 5f);
        var p = Enumerable.Repeat(float.NaN, 300).ToArray();
        Softmax.Apply(x, p, 1f, 123, level);
        Assert.All(p[123..], v => Assert.Equal(0f, v));
        Assert.InRange(p[..123].Sum(v => (double)v), 1 - 1e-6, 1 + 1e-6);
        Assert.All(p[..123], v => Assert.True(v > 0));
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void HugeLogitsDoNotOverflow(SimdLevel level)
    {
        float[] x = [1e30f, 1e30f, 0f, -1e30f, 5000f, 5000f, 5000f, 5000f];
        var p = new float[x.Length];
        Softmax.Apply(x, p, level);
        Assert.Equal([0.5f, 0.5f, 0f, 0f, 0f, 0f, 0f, 0f], p);

        float[] y = Enumerable.Repeat(88.5f, 20).ToArray(); // exp(88.5) alone would overflow float
        var q = new float[20];
        Softmax.Apply(y, q, level);
        Assert.All(q, v => Assert.Equal(0.05f, v, 1e-7f));
    }

    [Fact]
    public void InPlaceAndZeroLengthWork()
    {
        float[] x = KernelTestData.Uniform(8, 64, -3f, 3f);
        var p = new float[64];
        Softmax.Apply(x, p, 2f, 40, Simd.Best);
        Softmax.ApplyInPlace(x, 2f, 40, Simd.Best);
        Assert.Equal(p, x);

        float[] z = [1f, 2f, 3f];
        Softmax.Apply(z, z, 1f, 0, Simd.Best);
        Assert.Equal([0f, 0f, 0f], z);
        Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.Apply(new float[3], new float[3], 1f, 4, Simd.Best));
    }
}
