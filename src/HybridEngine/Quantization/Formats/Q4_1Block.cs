namespace HybridEngine.Quantization.Formats;

/// <summary>Q4_1 blocks (SPEC 2).</summary>
public static class Q4_1Block
{
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output) =>
        throw new NotImplementedException("Q4_1 dequantization is not written yet");

    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        throw new NotImplementedException("Q4_1 quantization is not written yet");
}
