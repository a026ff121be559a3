namespace HybridEngine.Quantization.Formats;

/// <summary>Q3_K blocks (SPEC 2).</summary>
public static class Q3_KBlock
{
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output) =>
        throw new NotImplementedException("Q3_K dequantization is not written yet");

    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        throw new NotImplementedException("Q3_K quantization is not written yet");
}
