using System.Runtime.Intrinsics.X86;
using HybridEngine.Kernels;
using HybridEngine.Kernels.Dot;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Kernels.Dot;

/// <summary>
/// Both 512-bit single-token Q4_K kernels against the scalar twin. <see cref="DotKernels"/> picks only one of them on a
/// given CPU (the VBMI one where the CPU has VBMI), so the table-driven <see cref="DotKernelTests"/> reach only that one;
/// here each is called directly. Skipped (returns early) on a CPU without the instructions.
/// </summary>
public class Q4_KAvx512KernelTests
{
    // Same budget as DotKernelTests: the integer block sums are exact on every path, only float accumulation order
    // differs (a few ulps per block); an unpacking mistake gives an error of order Σ|w·a|/n, far above 1e-5·Σ|w·a|.
    private const double FloatRelative = 1e-5;

    public static IEnumerable<object[]> Kernels() => [["avx512"], ["avx512-vbmi"]];

    [Theory]
    [MemberData(nameof(Kernels))]
    public unsafe void Kernel_matches_scalar_twin(string kernel)
    {
        if (!Avx512BW.IsSupported || (kernel == "avx512-vbmi" && !Q4_KAvx512Vbmi.IsSupported)) return;
        delegate*<byte*, byte*, int, float> dot = kernel == "avx512" ? &Q4_KAvx512.Dot : &Q4_KAvx512Vbmi.Dot;
        foreach (int blocks in new[] { 1, 3, 8 })
        {
            int n = blocks * QuantTypes.Get(GgmlType.Q4_K).BlockSize;
            for (int seed = 0; seed < 4; seed++)
            {
                var w = DotTestData.RandomWeights(GgmlType.Q4_K, blocks, 77 * seed + blocks);
                var a = DotTestData.Quantize(GgmlType.Q4_K, DotTestData.Activations(n, 5 + seed + blocks));
                var (_, absSum) = DotTestData.Oracle(DotTestData.DequantizeWeights(GgmlType.Q4_K, w, n),
                    DotTestData.DequantizeActivations(GgmlType.Q4_K, a, n));
                float expected, actual;
                fixed (byte* pw = w)
                fixed (byte* pa = a)
                {
                    expected = Q4_KDot.Scalar(pw, pa, blocks);
                    actual = dot(pw, pa, blocks);
                }
                Assert.True(Math.Abs(actual - expected) <= FloatRelative * absSum + 1e-30,
                    $"{kernel} blocks={blocks} seed={seed}: scalar {expected:R}, kernel {actual:R}, budget {FloatRelative * absSum:E3}");
            }
        }
    }
}
