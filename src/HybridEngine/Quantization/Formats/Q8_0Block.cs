using System.Runtime.InteropServices;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q8_0 (SPEC 2.2, 2.9): 32 values per 34-byte block, <c>d</c> (fp16) then <c>qs[32]</c> (int8); <c>y = d·q</c>.
/// Also the activation format the CPU dot products pair with Q4_0, Q5_0, Q8_0 and IQ4_NL.
/// </summary>
public static class Q8_0Block
{
    public const int BlockSize = 32;
    public const int BytesPerBlock = 34;

    /// <summary>The block's scale d.</summary>
    public static float Scale(ReadOnlySpan<byte> block) => QuantMath.ReadHalf(block, 0);

    /// <summary>The block's 32 signed quants.</summary>
    public static ReadOnlySpan<sbyte> Quants(ReadOnlySpan<byte> block) =>
        MemoryMarshal.Cast<byte, sbyte>(block.Slice(2, BlockSize));

    /// <summary><c>y[j] = d·qs[j]</c>, as ggml's dequantize_row_q8_0.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(block, 0);
            var qs = Quants(block);
            for (int j = 0; j < BlockSize; j++) y[j] = qs[j] * d;
        }
    }

    /// <summary>
    /// ggml's quantize_row_q8_0_ref: <c>amax = max|x|</c>, <c>d = amax/127</c>, <c>q = roundf(x·(1/d))</c>
    /// (halves away from zero; q = 0 when d = 0). The unrounded d is used for the quants, the fp16 d is stored.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var qs = MemoryMarshal.Cast<byte, sbyte>(block.Slice(2, BlockSize));
            float d = QuantizeBlock(input.Slice(b * BlockSize, BlockSize), qs);
            QuantMath.WriteHalf(block, 0, d);
        }
    }

    /// <summary>
    /// Quantizes one block of 32 values into <paramref name="quants"/> (no allocation) and returns the unrounded
    /// scale d; the packed block stores fp16(d).
    /// </summary>
    public static float QuantizeBlock(ReadOnlySpan<float> x, Span<sbyte> quants)
    {
        x = x[..BlockSize];
        quants = quants[..BlockSize];
        float amax = 0f;
        for (int j = 0; j < BlockSize; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        for (int j = 0; j < BlockSize; j++) quants[j] = (sbyte)QuantMath.TruncateToInt(QuantMath.RoundAway(x[j] * id));
        return d;
    }
}
