using Xunit;
using HybridEngine.Kernels;

namespace HybridEngine.Tests.Kernels;

public class SiluTests
{
    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void EveryPathMatchesScalarTwin(SimdLevel level)
    {
        foreach (int n in KernelTestData.Lengths())
        {
            float[] x = KernelTestData.Uniform(n, n, -20f, 20f);
            float[] expected = x.Select(Silu.Reference).ToArray();
            var actual = new float[n];
            Silu.Apply(x, actual, level);
            // The vector exp may differ from MathF.Exp by an ulp or two; one add and one divide follow.
            KernelTestData.AssertClose(expected, actual, 1e-37, 1e-6, $"{level} n={n}");
        }
    }

    [Fact]
    public void ScalarTwinMatchesDoublePrecision()
    {
        float[] x = KernelTestData.Uniform(5, 4096, -30f, 30f);
        double[] exact = x.Select(v => v / (1.0 + Math.Exp(-(double)v))).ToArray();
        float[] y = x.Select(Silu.Reference).ToArray();
        // expf (≤1 ulp), one add, one divide: a few ulps relative.
        KernelTestData.AssertClose(exact, y, 1e-37, 1e-6, "silu");
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void LimitsAreFinite(SimdLevel level)
    {
        float[] x = [-1000f, -100f, 0f, 100f, 1000f, -1000f, 0f, 1000f, -1000f, -100f, 0f, 100f, 1000f, -1000f, 0f, 1000f];
        var y = new float[x.Length];
        Silu.Apply(x, y, level);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.False(float.IsNaN(y[i]), $"silu({x[i]}) is NaN on {level}");
            if (x[i] >= 100) Assert.Equal(x[i], y[i]);
            else if (x[i] <= -1000) Assert.Equal(0f, y[i]);
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void InPlaceEqualsOutOfPlace(SimdLevel level)
    {
        float[] x = KernelTestData.Uniform(9, 333, -8f, 8f);
        var y = new float[x.Length];
        Silu.Apply(x, y, level);
        Silu.ApplyInPlace(x, level);
        Assert.Equal(y, x);
    }
}
