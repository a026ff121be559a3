using HybridEngine.Kernels;
using Xunit;

namespace HybridEngine.Tests.Kernels;

/// <summary>The per-token kernels must not allocate (STYLE: no allocation on the per-token path).</summary>
public class KernelAllocationTests
{
    [Theory]
    [MemberData(nameof(KernelTestData.Levels), MemberType = typeof(KernelTestData))]
    public void PerTokenKernelsAllocateNothing(SimdLevel level)
    {
        float[] x = KernelTestData.Uniform(1, 7168, -1f, 1f);
        float[] w = KernelTestData.Uniform(2, 7168, -1f, 1f);
        float[] y = new float[7168];
        float[] q = KernelTestData.Uniform(3, 16 * 192, -1f, 1f);
        int[] chosen = new int[8];
        var table = new RopeTable(RopeParameters.Yarn(64, RopeMode.Norm, 10000f, 40f, 4096), 64);

        void RunAll()
        {
            RmsNorm.Apply(x, w, y, 1e-6f, level);
            Softmax.Apply(x, y, 0.5f, 5000, level);
            Silu.Apply(x, y, level);
            SwiGlu.Apply(x, w, y, level);
            Rope.Apply(q, 16, 192, 17, table, level, 128);
            TopK.Select(x.AsSpan(0, 256), chosen);
        }

        RunAll(); // JIT and type initialisation allocate once
        long before = GC.GetAllocatedBytesForCurrentThread();
        RunAll();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
