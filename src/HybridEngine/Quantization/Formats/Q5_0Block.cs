using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q5_0 (SPEC 2.2): 32 values per 22-byte block, <c>d</c> (fp16), <c>qh</c> (u32, bit j = fifth bit of value j),
/// <c>qs[16]</c> (low nibbles as Q4_0); <c>y = d·(q − 16)</c> with q in 0..31.
/// </summary>
public static class Q5_0Block
{
    public const int BlockSize = 32;
    public const int BytesPerBlock = 22;

    /// <summary>As ggml's dequantize_row_q5_0.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(block, 0);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(2, 4));
            var qs = block.Slice(6, 16);
            for (int j = 0; j < 16; j++)
            {
                int lo = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
                int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
                y[j] = (lo - 16) * d;
                y[j + 16] = (hi - 16) * d;
            }
        }
    }

    /// <summary>
    /// ggml's quantize_row_q5_0_ref: <c>max</c> = the value of largest magnitude, <c>d = max/−16</c>,
    /// <c>q = min(31, trunc(x·(1/d) + 16.5))</c>.
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
            float d = max / -16f;
            float id = d != 0f ? 1f / d : 0f;
            QuantMath.WriteHalf(block, 0, d);
            var qs = block.Slice(6, 16);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Min(31, (int)(sbyte)QuantMath.TruncateToInt(x[j] * id + 16.5f));
                int hi = Math.Min(31, (int)(sbyte)QuantMath.TruncateToInt(x[j + 16] * id + 16.5f));
                qs[j] = (byte)((lo & 0xF) | ((hi & 0xF) << 4));
                qh |= (uint)((lo >> 4) & 1) << j;
                qh |= (uint)((hi >> 4) & 1) << (j + 16);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(block.Slice(2, 4), qh);
        }
    }
}
