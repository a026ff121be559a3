using System.Runtime.InteropServices;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q8_1 (SPEC 2.1, 2.9): 32 values per 36-byte block, <c>d</c> (fp16), <c>s = d·Σq</c> (fp16), <c>qs[32]</c> (int8).
/// The activation format paired with Q4_1 and Q5_1; <c>s</c> lets the dot product add the weights' min term
/// without touching the quants. <c>y = d·q</c>.
/// </summary>
public static class Q8_1Block
{
    public const int BlockSize = 32;
    public const int BytesPerBlock = 36;

    /// <summary>The block's scale d.</summary>
    public static float Scale(ReadOnlySpan<byte> block) => QuantMath.ReadHalf(block, 0);

    /// <summary>The block's stored <c>d·Σq</c>.</summary>
    public static float ScaledSum(ReadOnlySpan<byte> block) => QuantMath.ReadHalf(block, 2);

    /// <summary>The block's 32 signed quants.</summary>
    public static ReadOnlySpan<sbyte> Quants(ReadOnlySpan<byte> block) =>
        MemoryMarshal.Cast<byte, sbyte>(block.Slice(4, BlockSize));

    /// <summary><c>y[j] = d·qs[j]</c> (ggml has no Q8_1 dequantizer; this is the Q8_0 rule on the same fields).</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = Scale(block);
            var qs = Quants(block);
            for (int j = 0; j < BlockSize; j++) y[j] = qs[j] * d;
        }
    }

    /// <summary>
    /// ggml's quantize_row_q8_1_ref: the Q8_0 rule (<c>d = max|x|/127</c>, <c>q = roundf(x/d)</c>) plus
    /// <c>s = fp16(Σq · d)</c> with the unrounded d.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var qs = MemoryMarshal.Cast<byte, sbyte>(block.Slice(4, BlockSize));
            float d = Q8_0Block.QuantizeBlock(input.Slice(b * BlockSize, BlockSize), qs);
            int sum = 0;
            for (int j = 0; j < BlockSize; j++) sum += qs[j];
            QuantMath.WriteHalf(block, 0, d);
            QuantMath.WriteHalf(block, 2, sum * d);
        }
    }
}
