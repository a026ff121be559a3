using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Quantization.Formats;
using HybridEngine.Tests.Quantization;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Kernels.Dot;

/// <summary>The kernel-side activation quantizers on every path are byte-identical to ggml's reference quantizers.</summary>
public class ActivationQuantizerTests
{
    public static IEnumerable<object[]> Cases() =>
        from dot in new[] { GgmlType.Q8_0, GgmlType.Q8_1, GgmlType.Q8_K }
        from kind in QuantTestData.InputKinds
        from level in Simd.Available
        select new object[] { dot, kind, level };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_ggml_reference_bytes(GgmlType dot, string kind, SimdLevel level)
    {
        const int length = 2048;
        var x = QuantTestData.Input(kind, length, seed: 17);
        var ours = new byte[ActivationQuantizer.RowBytes(dot, length)];
        ActivationQuantizer.QuantizeRow(dot, x, ours, level);
        var ggml = GgmlReference.QuantizeRowRef(QuantTypes.Get(dot).Name, x, ours.Length);
        Assert.Equal(ggml, ours);
    }

    [Fact]
    public void Matches_the_format_quantizers()
    {
        var x = QuantTestData.Input("gaussian", 1024, seed: 3);
        foreach (var (dot, quantize) in new (GgmlType, QuantizeRow)[] { (GgmlType.Q8_0, Q8_0Block.Quantize), (GgmlType.Q8_1, Q8_1Block.Quantize), (GgmlType.Q8_K, Q8_KBlock.Quantize) })
        {
            var ours = new byte[ActivationQuantizer.RowBytes(dot, x.Length)];
            var format = new byte[ours.Length];
            ActivationQuantizer.QuantizeRow(dot, x, ours, Simd.Best);
            quantize(x, format);
            Assert.Equal(format, ours);
        }
    }

    [Fact]
    public void Row_length_must_be_whole_blocks() =>
        Assert.Throws<ArgumentException>(() => ActivationQuantizer.RowBytes(GgmlType.Q8_K, 300));
}
