using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Quantization.Formats;
using HybridEngine.Tests.Quantization;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Kernels.Dot;

/// <summary>
/// The kernel-side activation quantizers, on every path, are byte-identical to what llama.cpp's x86 CPU backend
/// produces (ggml-cpu's own quantize_row_q8_0 / q8_1 / q8_K), and to the format quantizers with the same rule.
/// </summary>
public class ActivationQuantizerTests
{
    public static IEnumerable<object[]> Cases() =>
        from dot in new[] { GgmlType.Q8_0, GgmlType.Q8_1, GgmlType.Q8_K }
        // Float-subnormal rows are left out: there 127/amax overflows and ggml-cpu's SIMD conversions of infinity
        // (saturating packs) differ from its reference C; the reference-rule tests below cover them.
        from kind in QuantTestData.InputKinds.Where(k => k != "subnormal")
        from level in Simd.Available
        select new object[] { dot, kind, level };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_ggml_cpu_backend_bytes(GgmlType dot, string kind, SimdLevel level)
    {
        // ggml-cpu's x86 build needs AVX to run at all.
        if (!System.Runtime.Intrinsics.X86.Avx.IsSupported) return;
        const int length = 2048;
        var x = QuantTestData.Input(kind, length, seed: 17);
        var ours = new byte[ActivationQuantizer.RowBytes(dot, length)];
        ActivationQuantizer.QuantizeRow(dot, x, ours, level);
        var ggml = GgmlReference.QuantizeRowCpu(QuantTypes.Get(dot).Name, x, ours.Length);
        Assert.Equal(ggml, ours);
    }

    /// <summary>Q8_1 and Q8_K: the CPU backend's rule is ggml's reference rule (quantize_row_*_ref).</summary>
    [Theory]
    [InlineData(GgmlType.Q8_1)]
    [InlineData(GgmlType.Q8_K)]
    public void Q8_1_and_Q8_K_match_ggml_reference_bytes(GgmlType dot)
    {
        foreach (string kind in QuantTestData.InputKinds)
        {
            var x = QuantTestData.Input(kind, 2048, seed: 23);
            var ours = new byte[ActivationQuantizer.RowBytes(dot, x.Length)];
            ActivationQuantizer.QuantizeRow(dot, x, ours, Simd.Best);
            Assert.Equal(GgmlReference.QuantizeRowRef(QuantTypes.Get(dot).Name, x, ours.Length), ours);
        }
    }

    /// <summary>Every input kind, subnormal rows included, on every path: the same bytes as the format quantizers.</summary>
    [Fact]
    public void Matches_the_format_quantizers()
    {
        var rules = new (GgmlType Dot, QuantizeRow Quantize)[]
        {
            (GgmlType.Q8_0, Q8_0Block.QuantizeAsCpuBackend), (GgmlType.Q8_1, Q8_1Block.Quantize), (GgmlType.Q8_K, Q8_KBlock.Quantize),
        };
        foreach (string kind in QuantTestData.InputKinds)
        {
            var x = QuantTestData.Input(kind, 1024, seed: 3);
            foreach (var (dot, quantize) in rules)
            {
                var format = new byte[ActivationQuantizer.RowBytes(dot, x.Length)];
                quantize(x, format);
                foreach (var level in Simd.Available)
                {
                    var ours = new byte[format.Length];
                    ActivationQuantizer.QuantizeRow(dot, x, ours, level);
                    Assert.True(format.AsSpan().SequenceEqual(ours), $"{dot} {kind} {level}");
                }
            }
        }
    }

    [Fact]
    public void Row_length_must_be_whole_blocks() =>
        Assert.Throws<ArgumentException>(() => ActivationQuantizer.RowBytes(GgmlType.Q8_K, 300));
}
