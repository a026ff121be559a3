using Xunit;
using HybridEngine.Kernels;

namespace HybridEngine.Tests.Kernels;

public class SwiGluTests
{
    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void EveryPathMatchesScalarTwin(SimdLevel level)
    {
        foreach (int n in KernelTestData.Lengths())
        {
            float[] g = KernelTestData.Uniform(n, n, -12f, 12f);
            float[] u = KernelTestData.Uniform(n + 99, n, -3f, 3f);
            float[] expected = g.Select((v, i) => SwiGlu.Reference(v, u[i])).ToArray();
            var actual = new float[n];
            SwiGlu.Apply(g, u, actual, level);
            // silu tolerance (vector exp vs MathF.Exp) plus one exact-rounded product.
            KernelTestData.AssertClose(expected, actual, 1e-37, 1.2e-6, $"{level} n={n}");
        }
    }

    [Fact]
    public void ScalarTwinMatchesDoublePrecision()
    {
        float[] g = KernelTestData.Uniform(1, 2048, -20f, 20f);
        float[] u = KernelTestData.Uniform(2, 2048, -5f, 5f);
        double[] exact = g.Select((v, i) => v / (1.0 + Math.Exp(-(double)v)) * u[i]).ToArray();
        float[] y = g.Select((v, i) => SwiGlu.Reference(v, u[i])).ToArray();
        KernelTestData.AssertClose(exact, y, 1e-37, 1.2e-6, "swiglu");
    }

    [Fact]
    public void OutputMayOverwriteTheGate()
    {
        float[] g = KernelTestData.Uniform(3, 100, -5f, 5f);
        float[] u = KernelTestData.Uniform(4, 100, -5f, 5f);
        var h = new float[100];
        SwiGlu.Apply(g, u, h, Simd.Best);
        SwiGlu.Apply(g, u, g, Simd.Best);
        Assert.Equal(h, g);
    }
}
