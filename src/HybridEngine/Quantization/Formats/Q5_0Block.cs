namespace HybridEngine.Quantization.Formats;

/// <summary>Q5_0 blocks (SPEC 2).</summary>
public static class Q5_0Block
{
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output) =>
        throw new NotImplementedException("Q5_0 dequantization is not written yet");

    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        throw new NotImplementedException("Q5_0 quantization is not written yet");
}
