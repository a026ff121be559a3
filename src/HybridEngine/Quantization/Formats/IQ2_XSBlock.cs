namespace HybridEngine.Quantization.Formats;

/// <summary>IQ2_XS blocks (SPEC 2).</summary>
public static class IQ2_XSBlock
{
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output) =>
        throw new NotImplementedException("IQ2_XS dequantization is not written yet");

    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        throw new NotImplementedException("IQ2_XS quantization is not written yet");
}
