namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q4_1 (SPEC 2.2): 32 values per 20-byte block, <c>d</c>, <c>m</c> (fp16) then <c>qs[16]</c> (nibbles as Q4_0);
/// <c>y = d·q + m</c> with q in 0..15.
/// </summary>
public static class Q4_1Block
{
    public const int BlockSize = 32;
    public const int BytesPerBlock = 20;

    /// <summary>As ggml's dequantize_row_q4_1: <c>y[j] = lo_j·d + m</c>, <c>y[j+16] = hi_j·d + m</c>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(block, 0);
            float m = QuantMath.ReadHalf(block, 2);
            var qs = block.Slice(4, 16);
            for (int j = 0; j < 16; j++)
            {
                y[j] = (qs[j] & 0xF) * d + m;
                y[j + 16] = (qs[j] >> 4) * d + m;
            }
        }
    }

    /// <summary>
    /// ggml's quantize_row_q4_1_ref: <c>d = (max − min)/15</c>, <c>m = min</c>,
    /// <c>q = min(15, trunc((x − min)·(1/d) + 0.5))</c>.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var x = input.Slice(b * BlockSize, BlockSize);
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            float min = float.MaxValue, max = -float.MaxValue;
            for (int j = 0; j < BlockSize; j++)
            {
                if (x[j] < min) min = x[j];
                if (x[j] > max) max = x[j];
            }
            float d = (max - min) / 15f;
            float id = d != 0f ? 1f / d : 0f;
            QuantMath.WriteHalf(block, 0, d);
            QuantMath.WriteHalf(block, 2, min);
            var qs = block.Slice(4, 16);
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Min(15, (int)(sbyte)QuantMath.TruncateToInt((x[j] - min) * id + 0.5f));
                int hi = Math.Min(15, (int)(sbyte)QuantMath.TruncateToInt((x[j + 16] - min) * id + 0.5f));
                qs[j] = (byte)(lo | (hi << 4));
            }
        }
    }
}
