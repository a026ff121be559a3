using HybridEngine.Quantization;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Quantization;

/// <summary>
/// The 32-value formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) against ggml's own C functions: dequantized floats
/// identical bit for bit, quantized bytes identical to quantize_row_&lt;t&gt;_ref (which ggml_quantize_chunk
/// uses for these types without an importance matrix).
/// </summary>
public class LegacyQuantTests
{
    private static readonly GgmlType[] Types = [GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0];

    public static TheoryData<GgmlType> AllTypes() => new(Types);

    public static TheoryData<GgmlType, string> TypesAndKinds() => QuantTestData.TypesAndKinds(Types);

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void DequantizeMatchesGgml(GgmlType type)
    {
        for (int seed = 1; seed <= 4; seed++) QuantTestData.AssertDequantizeMatchesGgml(type, 64, seed);
    }

    [Theory]
    [MemberData(nameof(TypesAndKinds))]
    public void QuantizeMatchesGgml(GgmlType type, string kind)
    {
        for (int seed = 1; seed <= 3; seed++)
        {
            QuantTestData.AssertQuantizeMatchesGgml(type, QuantTestData.Input(kind, 1024, seed), $"{type} {kind} seed {seed}");
        }
    }

    /// <summary>ggml_quantize_chunk (the file quantizer's entry point) gives the same bytes over several rows.</summary>
    [Theory]
    [MemberData(nameof(AllTypes))]
    public void QuantizeMatchesGgmlQuantizeChunk(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        const int rows = 3, perRow = 96;
        float[] x = QuantTestData.Input("rows", rows * perRow, 5);
        int bytes = (int)info.RowBytes(perRow) * rows;
        byte[] expected = GgmlReference.QuantizeChunk((int)type, x, rows, perRow, bytes);
        var actual = new byte[bytes];
        info.Quantize!(x, actual);
        QuantTestData.AssertBytesEqual(expected, actual, info.BytesPerBlock, $"{type} chunk");
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void RowBytesMatchGgml(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        foreach (long n in new long[] { 32, 128, 1408, 10944, 7168 })
        {
            Assert.Equal(GgmlReference.RowSize((int)type, n), info.RowBytes(n));
        }
    }
}
