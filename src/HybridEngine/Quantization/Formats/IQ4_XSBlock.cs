namespace HybridEngine.Quantization.Formats;

/// <summary>IQ4_XS blocks (SPEC 2).</summary>
public static class IQ4_XSBlock
{
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output) =>
        throw new NotImplementedException("IQ4_XS dequantization is not written yet");

    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        throw new NotImplementedException("IQ4_XS quantization is not written yet");
}
