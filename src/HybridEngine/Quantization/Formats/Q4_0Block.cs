namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q4_0 (SPEC 2.2): 32 values per 18-byte block, <c>d</c> (fp16) then <c>qs[16]</c>. Byte j holds value j in its
/// low nibble and value j+16 in its high nibble; <c>y = d·(q − 8)</c>.
/// </summary>
public static class Q4_0Block
{
    public const int BlockSize = 32;
    public const int BytesPerBlock = 18;

    /// <summary>As ggml's dequantize_row_q4_0: <c>y[j] = (lo_j − 8)·d</c>, <c>y[j+16] = (hi_j − 8)·d</c>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(block, 0);
            var qs = block.Slice(2, 16);
            for (int j = 0; j < 16; j++)
            {
                y[j] = ((qs[j] & 0xF) - 8) * d;
                y[j + 16] = ((qs[j] >> 4) - 8) * d;
            }
        }
    }

    /// <summary>
    /// ggml's quantize_row_q4_0_ref: <c>max</c> = the value of largest magnitude (first one wins), <c>d = max/−8</c>,
    /// <c>q = min(15, trunc(x·(1/d) + 8.5))</c>. Dividing by −8 maps the extreme value to q = 0 exactly, so the
    /// asymmetric range −8..7 is used in full on the side of the extreme.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var x = input.Slice(b * BlockSize, BlockSize);
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            float amax = 0f, max = 0f;
            for (int j = 0; j < BlockSize; j++)
            {
                if (amax < MathF.Abs(x[j])) { amax = MathF.Abs(x[j]); max = x[j]; }
            }
            float d = max / -8f;
            float id = d != 0f ? 1f / d : 0f;
            QuantMath.WriteHalf(block, 0, d);
            var qs = block.Slice(2, 16);
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Min(15, (int)(sbyte)QuantMath.TruncateToInt(x[j] * id + 8.5f));
                int hi = Math.Min(15, (int)(sbyte)QuantMath.TruncateToInt(x[j + 16] * id + 8.5f));
                qs[j] = (byte)(lo | (hi << 4));
            }
        }
    }
}
