using HybridEngine.Quantization;
using HybridEngine.Quantization.Formats;
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

    public static TheoryData<GgmlType, string> TypesAndKinds() => QuantTestData.TypesAndKinds(Types);

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

    public static TheoryData<GgmlType, bool> SearchPaths()
    {
        var data = new TheoryData<GgmlType, bool>();
        foreach (var type in new[] { GgmlType.Q2_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K })
        {
            data.Add(type, false);
            data.Add(type, true);
        }
        return data;
    }

    /// <summary>
    /// The scalar search and the eight-lane vector search are separate code; each alone must give ggml's bytes
    /// (the lane path falls back to software vectors where Vector256 is not hardware, still exact).
    /// </summary>
    [Theory]
    [MemberData(nameof(SearchPaths))]
    public void EachSearchPathMatchesGgml(GgmlType type, bool useLanes)
    {
        QuantizeRow quantize = type switch
        {
            GgmlType.Q2_K => (x, y) => Q2_KBlock.Quantize(x, y, useLanes),
            GgmlType.Q4_K => (x, y) => Q4_KBlock.Quantize(x, y, useLanes),
            GgmlType.Q6_K => (x, y) => Q6_KBlock.Quantize(x, y, useLanes),
            _ => (x, y) => Q5_KBlock.Quantize(x, y, useLanes),
        };
        var info = QuantTypes.Get(type);
        foreach (string kind in QuantTestData.InputKinds.Append("flat"))
        {
            float[] x = kind == "flat" ? FlatGroups() : QuantTestData.Input(kind, 1024, 23);
            byte[] expected = GgmlReference.QuantizeRowRef(info.Name, x, (int)info.RowBytes(x.Length));
            var actual = new byte[expected.Length];
            quantize(x, actual);
            QuantTestData.AssertBytesEqual(expected, actual, info.BytesPerBlock, $"{type} {kind} lanes={useLanes}");
        }
    }

    /// <summary>Groups of 16 that are constant (zero, negative, positive) or have a single non-zero value: the early exits.</summary>
    private static float[] FlatGroups()
    {
        var x = new float[512];
        for (int g = 0; g < 32; g++)
        {
            var group = x.AsSpan(16 * g, 16);
            switch (g % 5)
            {
                case 0: group.Fill(0f); break;
                case 1: group.Fill(-1.5f); break;
                case 2: group.Fill(2.25f); break;
                case 3: group[g % 16] = -0.75f; break;
                default: for (int i = 0; i < 16; i++) group[i] = i * 0.1f - 0.7f; break;
            }
        }
        return x;
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
