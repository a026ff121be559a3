namespace HybridEngine.Quantization.Formats;

/// <summary>IQ3_XXS blocks (SPEC 2).</summary>
public static class IQ3_XXSBlock
{
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output) =>
        throw new NotImplementedException("IQ3_XXS dequantization is not written yet");

    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        throw new NotImplementedException("IQ3_XXS quantization is not written yet");
}
