using Xunit;
using HybridEngine.Kernels;

namespace HybridEngine.Tests.Kernels;

public class RmsNormTests
{
    private const float Eps = 1e-6f;

    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void EveryPathMatchesScalarTwin(SimdLevel level)
    {
        foreach (int n in KernelTestData.Lengths())
        {
            float[] x = KernelTestData.Uniform(n, n, -4f, 4f);
            float[] w = KernelTestData.Uniform(n + 1000, n, -2f, 2f);
            var expected = new float[n];
            var actual = new float[n];
            RmsNorm.Reference(x, w, expected, Eps);
            RmsNorm.Apply(x, w, actual, Eps, level);
            // Only the order of the double sum differs between paths; after rounding the mean to float it can move
            // by at most an ulp, so elements agree to a few float ulps (2^-23 ≈ 1.2e-7 relative each).
            KernelTestData.AssertClose(expected, actual, 1e-30, 5e-7, $"{level} n={n}");
        }
    }

    [Fact]
    public void ScalarTwinMatchesDoublePrecision()
    {
        foreach (int n in KernelTestData.Lengths().Where(n => n > 0))
        {
            float[] x = KernelTestData.Uniform(7 * n, n, -10f, 10f);
            float[] w = KernelTestData.Uniform(7 * n + 1, n, 0.1f, 3f);
            double sum = 0;
            foreach (float v in x) sum += (double)v * v;
            double s = 1.0 / Math.Sqrt(sum / n + Eps);
            double[] exact = x.Select((v, i) => v * s * w[i]).ToArray();
            var y = new float[n];
            RmsNorm.Reference(x, w, y, Eps);
            // Float steps after the exact sum: mean rounding, add, sqrt, divide, two products: under 8 ulps (~1e-6).
            KernelTestData.AssertClose(exact, y, 1e-30, 1e-6, $"n={n}");
        }
    }

    [Fact]
    public void InPlaceAndBatchedFormsEqualTheRowForm()
    {
        const int tokens = 5, hidden = 384;
        float[] x = KernelTestData.Uniform(3, tokens * hidden, -3f, 3f);
        float[] w = KernelTestData.Uniform(4, hidden, -1f, 1f);
        var perRow = new float[tokens * hidden];
        for (int t = 0; t < tokens; t++)
            RmsNorm.Apply(x.AsSpan(t * hidden, hidden), w, perRow.AsSpan(t * hidden, hidden), Eps, Simd.Best);

        var batched = new float[tokens * hidden];
        RmsNorm.ApplyRows(x, w, batched, tokens, Eps, Simd.Best);
        Assert.Equal(perRow, batched);

        var inPlace = (float[])x.Clone();
        for (int t = 0; t < tokens; t++) RmsNorm.ApplyInPlace(inPlace.AsSpan(t * hidden, hidden), w, Eps, Simd.Best);
        Assert.Equal(perRow, inPlace);
    }

    [Fact]
    public void UnitWeightGivesUnitRootMeanSquare()
    {
        float[] x = KernelTestData.Uniform(11, 7168, -50f, 50f);
        var y = new float[x.Length];
        RmsNorm.Apply(x, Enumerable.Repeat(1f, x.Length).ToArray(), y, 0f, Simd.Best);
        double ms = y.Sum(v => (double)v * v) / y.Length;
        Assert.InRange(ms, 1 - 1e-5, 1 + 1e-5);
    }

    [Fact]
    public void RejectsMismatchedWeightAndEmptyScale()
    {
        Assert.Throws<ArgumentException>(() => RmsNorm.Apply(new float[4], new float[3], new float[4], Eps, SimdLevel.Scalar));
        Assert.Throws<ArgumentException>(() => RmsNorm.Scale([], Eps, SimdLevel.Scalar));
        RmsNorm.Apply([], [], [], Eps, Simd.Best); // an empty row is a no-op
    }
}
