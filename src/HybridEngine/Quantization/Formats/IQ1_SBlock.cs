namespace HybridEngine.Quantization.Formats;

/// <summary>IQ1_S blocks (SPEC 2).</summary>
public static class IQ1_SBlock
{
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output) =>
        throw new NotImplementedException("IQ1_S dequantization is not written yet");

    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        throw new NotImplementedException("IQ1_S quantization is not written yet");
}
