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

    /// <summary>Fails unless every element has |a − e| ≤ abs + rel·|e|; the message names the worst one.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double abs, double rel, string context)
    {
        string? mismatch = Mismatch(expected, actual, abs, rel, context);
        Assert.True(mismatch is null, mismatch);
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double abs, double rel, string context)
    {
        string? mismatch = Mismatch(expected, actual, abs, rel, context);
        Assert.True(mismatch is null, mismatch);
    }

    /// <summary>Null when every element has |a − e| ≤ abs + rel·|e| (and the lengths agree), else what is off, worst element first.</summary>
    public static string? Mismatch(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double abs, double rel, string context)
    {
        var wide = new double[expected.Length];
        for (int i = 0; i < wide.Length; i++) wide[i] = expected[i];
        return Mismatch(wide, actual, abs, rel, context);
    }

    public static string? Mismatch(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double abs, double rel, string context)
    {
        if (expected.Length != actual.Length) return $"{context}: {actual.Length} elements, expected {expected.Length}";
        int failures = 0, worst = -1;
        double worstExcess = 0, maxAbs = 0, maxRel = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i], diff = Math.Abs(a - e);
            maxAbs = Math.Max(maxAbs, diff);
            if (e != 0) maxRel = Math.Max(maxRel, diff / Math.Abs(e));
            double excess = diff - (abs + rel * Math.Abs(e));
            if (excess > 0 || double.IsNaN(diff))
            {
                failures++;
                if (worst < 0 || !(excess <= worstExcess)) { worst = i; worstExcess = excess; }
            }
        }
        return failures == 0 ? null
            : $"{context}: {failures} of {expected.Length} elements out of tolerance (abs {abs:E1} + rel {rel:E1}); " +
              $"worst element {worst}: expected {expected[worst]:R} got {actual[worst]:R}; max |diff| {maxAbs:E3}, max rel {maxRel:E3}";
    }
}
