namespace HybridEngine.Quantization;

/// <summary>Turns a run of whole blocks into floats: <c>output.Length</c> = blocks × block size.</summary>
public delegate void DequantizeRow(ReadOnlySpan<byte> blocks, Span<float> output);

/// <summary>Turns floats (a multiple of the block size) into whole blocks.</summary>
public delegate void QuantizeRow(ReadOnlySpan<float> input, Span<byte> blocks);

/// <summary>One row of the quant-type table: sizes and the conversions this engine implements.</summary>
/// <param name="DotType">The activation type the CPU dot product pairs with this weight type (SPEC 2.9).</param>
public sealed record QuantTypeInfo(
    GgmlType Type,
    string Name,
    int BlockSize,
    int BytesPerBlock,
    GgmlType DotType,
    DequantizeRow? Dequantize,
    QuantizeRow? Quantize)
{
    public double BitsPerWeight => BytesPerBlock * 8.0 / BlockSize;

    /// <summary>Bytes of a row of <paramref name="elements"/> values; the count must be a multiple of the block size.</summary>
    public long RowBytes(long elements) => elements / BlockSize * BytesPerBlock;
}

/// <summary>The one table of quant types. Loader, planner, tuner and kernels read sizes only from here.</summary>
public static class QuantTypes
{
    private static readonly Dictionary<GgmlType, QuantTypeInfo> Table = Build();

    public static IReadOnlyCollection<QuantTypeInfo> All => Table.Values;

    public static bool TryGet(uint id, out QuantTypeInfo info) => Table.TryGetValue((GgmlType)id, out info!);

    public static QuantTypeInfo Get(GgmlType type) =>
        Table.TryGetValue(type, out var info)
            ? info
            : throw new NotSupportedException($"Quant type id {(uint)type} is not supported; supported: {SupportedNames()}.");

    public static string SupportedNames() => string.Join(", ", Table.Values.OrderBy(t => (uint)t.Type).Select(t => t.Name));

    public static bool TryParseName(string name, out GgmlType type)
    {
        foreach (var info in Table.Values)
        {
            if (string.Equals(info.Name, name, StringComparison.OrdinalIgnoreCase)) { type = info.Type; return true; }
        }
        type = default;
        return false;
    }

    private static Dictionary<GgmlType, QuantTypeInfo> Build()
    {
        QuantTypeInfo[] rows =
        [
            new(GgmlType.F32, "f32", 1, 4, GgmlType.F32, Formats.FloatFormats.DequantizeF32, Formats.FloatFormats.QuantizeF32),
            new(GgmlType.F16, "f16", 1, 2, GgmlType.F16, Formats.FloatFormats.DequantizeF16, Formats.FloatFormats.QuantizeF16),
            new(GgmlType.BF16, "bf16", 1, 2, GgmlType.BF16, Formats.FloatFormats.DequantizeBF16, null),
            new(GgmlType.Q4_0, "q4_0", 32, 18, GgmlType.Q8_0, Formats.Q4_0Block.Dequantize, Formats.Q4_0Block.Quantize),
            new(GgmlType.Q4_1, "q4_1", 32, 20, GgmlType.Q8_1, Formats.Q4_1Block.Dequantize, Formats.Q4_1Block.Quantize),
            new(GgmlType.Q5_0, "q5_0", 32, 22, GgmlType.Q8_0, Formats.Q5_0Block.Dequantize, Formats.Q5_0Block.Quantize),
            new(GgmlType.Q5_1, "q5_1", 32, 24, GgmlType.Q8_1, Formats.Q5_1Block.Dequantize, Formats.Q5_1Block.Quantize),
            new(GgmlType.Q8_0, "q8_0", 32, 34, GgmlType.Q8_0, Formats.Q8_0Block.Dequantize, Formats.Q8_0Block.Quantize),
            new(GgmlType.Q8_1, "q8_1", 32, 36, GgmlType.Q8_1, Formats.Q8_1Block.Dequantize, Formats.Q8_1Block.Quantize),
            new(GgmlType.Q2_K, "q2_K", 256, 84, GgmlType.Q8_K, Formats.Q2_KBlock.Dequantize, Formats.Q2_KBlock.Quantize),
            new(GgmlType.Q3_K, "q3_K", 256, 110, GgmlType.Q8_K, Formats.Q3_KBlock.Dequantize, Formats.Q3_KBlock.Quantize),
            new(GgmlType.Q4_K, "q4_K", 256, 144, GgmlType.Q8_K, Formats.Q4_KBlock.Dequantize, Formats.Q4_KBlock.Quantize),
            new(GgmlType.Q5_K, "q5_K", 256, 176, GgmlType.Q8_K, Formats.Q5_KBlock.Dequantize, Formats.Q5_KBlock.Quantize),
            new(GgmlType.Q6_K, "q6_K", 256, 210, GgmlType.Q8_K, Formats.Q6_KBlock.Dequantize, Formats.Q6_KBlock.Quantize),
            new(GgmlType.Q8_K, "q8_K", 256, 292, GgmlType.Q8_K, Formats.Q8_KBlock.Dequantize, Formats.Q8_KBlock.Quantize),
            new(GgmlType.IQ2_XXS, "iq2_xxs", 256, 66, GgmlType.Q8_K, Formats.IQ2_XXSBlock.Dequantize, null),
            new(GgmlType.IQ2_XS, "iq2_xs", 256, 74, GgmlType.Q8_K, Formats.IQ2_XSBlock.Dequantize, null),
            new(GgmlType.IQ3_XXS, "iq3_xxs", 256, 98, GgmlType.Q8_K, Formats.IQ3_XXSBlock.Dequantize, null),
            new(GgmlType.IQ1_S, "iq1_s", 256, 50, GgmlType.Q8_K, Formats.IQ1_SBlock.Dequantize, null),
            new(GgmlType.IQ4_NL, "iq4_nl", 32, 18, GgmlType.Q8_0, Formats.IQ4_NLBlock.Dequantize, Formats.IQ4_NLBlock.Quantize),
            new(GgmlType.IQ1_M, "iq1_m", 256, 56, GgmlType.Q8_K, Formats.IQ1_MBlock.Dequantize, null),
            new(GgmlType.IQ4_XS, "iq4_xs", 256, 136, GgmlType.Q8_K, Formats.IQ4_XSBlock.Dequantize, Formats.IQ4_XSBlock.Quantize),
        ];
        return rows.ToDictionary(r => r.Type);
    }
}
