using HybridEngine.Kernels;
using HybridEngine.Kernels.Dot;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Kernels.Dot;

/// <summary>
/// Each weight type's dot kernel: every SIMD path against its scalar twin, the scalar twin against the
/// double-precision dequantize-then-dot oracle, and against ggml's own generic C dot product.
/// </summary>
public class DotKernelTests
{
    // Float rounding budget, relative to Σ|w_i·a_i|: a float32 sum of up to ~7000 terms accumulated in different
    // orders (vector lanes, FMA, per-block partial sums) differs by a few ulps per block, far below 1e-5 of that sum.
    // Integer block sums are exact on every path, so any unpacking mistake shows up as an error of order Σ|w·a|/n.
    private const double FloatRelative = 1e-5;

    internal static unsafe float Dot(GgmlType type, SimdLevel level, byte[] weights, byte[] act, int blocks)
    {
        var kernel = DotKernels.Get(type, level);
        fixed (byte* w = weights)
        fixed (byte* a = act)
        {
            return kernel(w, a, blocks);
        }
    }

    [Theory]
    [MemberData(nameof(DotTestData.TypesAndLevels), MemberType = typeof(DotTestData))]
    public void Simd_path_matches_scalar_twin(GgmlType type, SimdLevel level)
    {
        var info = QuantTypes.Get(type);
        foreach (int blocks in DotTestData.BlockCounts(type))
        {
            int n = blocks * info.BlockSize;
            for (int seed = 0; seed < 3; seed++)
            {
                var w = DotTestData.RandomWeights(type, blocks, 1000 * seed + blocks);
                var x = DotTestData.Activations(n, 7 + seed + blocks);
                var a = DotTestData.Quantize(type, x);
                var (_, absSum) = DotTestData.Oracle(DotTestData.DequantizeWeights(type, w, n), DotTestData.DequantizeActivations(type, a, n));
                float scalar = Dot(type, SimdLevel.Scalar, w, a, blocks);
                float simd = Dot(type, level, w, a, blocks);
                Assert.True(Math.Abs(simd - scalar) <= FloatRelative * absSum + 1e-30,
                    $"{info.Name} {level} blocks={blocks} seed={seed}: scalar {scalar:R}, simd {simd:R}, budget {FloatRelative * absSum:E3}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(DotTestData.Types), MemberType = typeof(DotTestData))]
    public void Scalar_twin_matches_dequantized_dot_in_double(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        foreach (int blocks in DotTestData.BlockCounts(type))
        {
            int n = blocks * info.BlockSize;
            var w = DotTestData.RandomWeights(type, blocks, 31 + blocks);
            var x = DotTestData.Activations(n, 97 + blocks);
            var a = DotTestData.Quantize(type, x);
            var (expected, absSum) = DotTestData.Oracle(DotTestData.DequantizeWeights(type, w, n), DotTestData.DequantizeActivations(type, a, n));
            // Q4_1/Q5_1: the activation's stored sum s is fp16-rounded (relative 2^-11), see OffsetTermMagnitude.
            double budget = FloatRelative * absSum + 1e-3 * DotTestData.OffsetTermMagnitude(type, w, a, blocks) + 1e-30;
            float actual = Dot(type, SimdLevel.Scalar, w, a, blocks);
            Assert.True(Math.Abs(actual - expected) <= budget,
                $"{info.Name} blocks={blocks}: oracle {expected:R}, scalar {actual:R}, budget {budget:E3}");
        }
    }

    public static IEnumerable<object[]> GgmlTypes() => DotTestData.QuantizedTypes.Select(t => new object[] { t });

    [Theory]
    [MemberData(nameof(GgmlTypes))]
    public void Scalar_twin_matches_ggml_generic_dot(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        string dotName = QuantTypes.Get(info.DotType).Name;
        foreach (int blocks in DotTestData.BlockCounts(type))
        {
            int n = blocks * info.BlockSize;
            var w = DotTestData.RandomWeights(type, blocks, 5 + blocks);
            var a = DotTestData.Quantize(type, DotTestData.Activations(n, 11 + blocks));
            var (_, absSum) = DotTestData.Oracle(DotTestData.DequantizeWeights(type, w, n), DotTestData.DequantizeActivations(type, a, n));
            float expected = GgmlDotReference.Dot(info.Name, dotName, n, w, a);
            float actual = Dot(type, SimdLevel.Scalar, w, a, blocks);
            Assert.True(Math.Abs(actual - expected) <= FloatRelative * absSum + 1e-30,
                $"{info.Name} blocks={blocks}: ggml {expected:R}, ours {actual:R}, budget {FloatRelative * absSum:E3}");
        }
    }

    /// <summary>
    /// The vector fp16 → float conversion in the F16 kernels is exact for every finite and infinite half (normals,
    /// subnormals, ±0, ±inf): weight row = the pattern in one of 16 slots, activations all ones, so the dot is the value.
    /// </summary>
    [Fact]
    public void F16_paths_convert_every_half_exactly()
    {
        var ones = new byte[16 * sizeof(float)];
        for (int i = 0; i < 16; i++) BitConverter.TryWriteBytes(ones.AsSpan(4 * i), 1f);
        var row = new byte[32];
        foreach (var level in Simd.Available)
        {
            for (int bits = 0; bits < 65536; bits++)
            {
                var half = BitConverter.UInt16BitsToHalf((ushort)bits);
                if (Half.IsNaN(half)) continue;
                Array.Clear(row);
                int slot = bits % 16;
                BitConverter.TryWriteBytes(row.AsSpan(2 * slot), (ushort)bits);
                float actual = Dot(GgmlType.F16, level, row, ones, 16);
                if (actual != (float)half) Assert.Fail($"{level}: half 0x{bits:X4} gave {actual:R}, expected {(float)half:R}");
            }
        }
    }

    [Fact]
    public void Unsupported_type_is_refused_with_the_supported_list()
    {
        var e = Assert.Throws<NotSupportedException>(() => { unsafe { _ = DotKernels.Get(GgmlType.TQ2_0, SimdLevel.Scalar); } });
        Assert.Contains("Q4_K", e.Message);
    }
}
