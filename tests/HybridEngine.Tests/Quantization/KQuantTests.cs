using HybridEngine.Quantization;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Quantization;

/// <summary>
/// The K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) against ggml's own C functions: dequantized floats identical bit
/// for bit, quantized bytes identical to quantize_row_&lt;t&gt;_ref (which ggml_quantize_chunk uses for these
/// types without an importance matrix). ggml's libggml-base is built without FMA (the same binary ships in every
/// CPU variant), so plain float arithmetic in ggml's order reproduces it exactly.
/// </summary>
public class KQuantTests
{
    private static readonly GgmlType[] Types = [GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    public static TheoryData<GgmlType> AllTypes() => new(Types);

    public static TheoryData<GgmlType, string> TypesAndKinds()
    {
        var data = new TheoryData<GgmlType, string>();
        foreach (var type in Types)
        {
            foreach (string kind in QuantTestData.InputKinds) data.Add(type, kind);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void DequantizeMatchesGgml(GgmlType type)
    {
        for (int seed = 1; seed <= 4; seed++) QuantTestData.AssertDequantizeMatchesGgml(type, 16, seed);
    }

    [Theory]
    [MemberData(nameof(TypesAndKinds))]
    public void QuantizeMatchesGgml(GgmlType type, string kind)
    {
        for (int seed = 1; seed <= 3; seed++)
        {
            QuantTestData.AssertQuantizeMatchesGgml(type, QuantTestData.Input(kind, 1280, seed), $"{type} {kind} seed {seed}");
        }
    }

    /// <summary>
    /// Many blocks of heavy-tailed values (gaussian divided by sqrt of a uniform): the rare branches of the
    /// searches (later grid steps, refinement passes) only decide the result in a small share of blocks.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllTypes))]
    public void QuantizeManyHeavyTailedBlocksMatchesGgml(GgmlType type)
    {
        var rng = new Random(17);
        var x = new float[400 * 256];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = QuantTestData.Gaussian(rng) / MathF.Sqrt((float)rng.NextDouble() + 1e-3f);
        }
        QuantTestData.AssertQuantizeMatchesGgml(type, x, $"{type} heavy-tailed");
    }

    /// <summary>ggml_quantize_chunk (the file quantizer's entry point) gives the same bytes over several rows.</summary>
    [Theory]
    [MemberData(nameof(AllTypes))]
    public void QuantizeMatchesGgmlQuantizeChunk(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        const int rows = 3, perRow = 512;
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
        foreach (long n in new long[] { 256, 512, 2048, 7168, 18432 })
        {
            Assert.Equal(GgmlReference.RowSize((int)type, n), info.RowBytes(n));
        }
    }
}
