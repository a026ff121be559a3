namespace HybridEngine.Quantization.Formats;

/// <summary>IQ1_M blocks (SPEC 2).</summary>
public static class IQ1_MBlock
{
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output) =>
        throw new NotImplementedException("IQ1_M dequantization is not written yet");

    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        throw new NotImplementedException("IQ1_M quantization is not written yet");
}
