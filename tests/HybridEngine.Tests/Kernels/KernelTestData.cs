using Xunit;
using HybridEngine.Kernels;

namespace HybridEngine.Tests.Kernels;

/// <summary>Seeded inputs and the length/path sweep shared by the kernel tests.</summary>
internal static class KernelTestData
{
    /// <summary>Every length 0..256 plus a few model-sized ones (hidden sizes, an odd prime).</summary>
    public static IEnumerable<int> Lengths() => Enumerable.Range(0, 257).Concat([1000, 2048, 4093, 7168]);

    public static IEnumerable<object[]> Levels() => Simd.Available.Select(l => new object[] { l });

    public static float[] Uniform(int seed, int n, float low, float high)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = low + (float)random.NextDouble() * (high - low);
        return values;
    }

    /// <summary>Fails with the first element outside |a − e| ≤ abs + rel·|e|.</summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double abs, double rel, string context)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (!(Math.Abs(a - e) <= abs + rel * Math.Abs(e)))
                Assert.Fail($"{context}: element {i} expected {e:R} got {a:R} (|diff| {Math.Abs(a - e):E3})");
        }
    }

    public static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double abs, double rel, string context)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (!(Math.Abs(a - e) <= abs + rel * Math.Abs(e)))
                Assert.Fail($"{context}: element {i} expected {e:R} got {a:R} (|diff| {Math.Abs(a - e):E3})");
        }
    }
}
