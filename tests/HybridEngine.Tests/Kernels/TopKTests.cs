using Xunit;
using HybridEngine.Kernels;

namespace HybridEngine.Tests.Kernels;

public class TopKTests
{
    private static int[] SortReference(float[] values, int k) =>
        Enumerable.Range(0, values.Length)
            .OrderByDescending(i => float.IsNaN(values[i]) ? float.NegativeInfinity : values[i])
            .ThenBy(i => float.IsNaN(values[i]) ? 1 : 0)
            .ThenBy(i => i)
            .Take(k).ToArray();

    [Fact]
    public void MatchesAFullStableSort()
    {
        var random = new Random(12345);
        for (int n = 1; n <= 300; n += 7)
        {
            foreach (int k in new[] { 1, 2, 4, 8, n / 2, n }.Where(k => k >= 1 && k <= n).Distinct())
            {
                // Small integers give many ties, real values give none.
                float[] values = Enumerable.Range(0, n).Select(_ => n % 2 == 0 ? random.Next(-5, 6) : (float)random.NextDouble()).ToArray();
                var indices = new int[k];
                var selected = new float[k];
                TopK.Select(values, indices, selected);
                Assert.Equal(SortReference(values, k), indices);
                Assert.Equal(indices.Select(i => values[i]), selected);
            }
        }
    }

    [Fact]
    public void NaNIsNeverPreferredToANumber()
    {
        float[] values = [float.NaN, 1f, float.NaN, -1f, float.NegativeInfinity];
        var indices = new int[4];
        TopK.Select(values, indices);
        Assert.Equal([1, 3, 4, 0], indices);
    }

    [Fact]
    public void RejectsKLargerThanN() =>
        Assert.Throws<ArgumentException>(() => TopK.Select(new float[3], new int[4]));
}
