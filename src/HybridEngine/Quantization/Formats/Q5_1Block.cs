using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q5_1 (SPEC 2.2): 32 values per 24-byte block, <c>d</c>, <c>m</c> (fp16), <c>qh</c> (u32 fifth bits),
/// <c>qs[16]</c>; <c>y = d·q + m</c> with q in 0..31.
/// </summary>
public static class Q5_1Block
{
    public const int BlockSize = 32;
    public const int BytesPerBlock = 24;

    /// <summary>As ggml's dequantize_row_q5_1.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(block, 0);
            float m = QuantMath.ReadHalf(block, 2);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(4, 4));
            var qs = block.Slice(8, 16);
            for (int j = 0; j < 16; j++)
            {
                int lo = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
                int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
                y[j] = lo * d + m;
                y[j + 16] = hi * d + m;
            }
        }
    }

    /// <summary>
    /// ggml's quantize_row_q5_1_ref: <c>d = (max − min)/31</c>, <c>m = min</c>,
    /// <c>q = (u8)trunc((x − min)·(1/d) + 0.5)</c>; ggml does not clamp here, only the low five bits are stored.
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
            float d = (max - min) / 31f;
            float id = d != 0f ? 1f / d : 0f;
            QuantMath.WriteHalf(block, 0, d);
            QuantMath.WriteHalf(block, 2, min);
            var qs = block.Slice(8, 16);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                int lo = (byte)QuantMath.TruncateToInt((x[j] - min) * id + 0.5f);
                int hi = (byte)QuantMath.TruncateToInt((x[j + 16] - min) * id + 0.5f);
                qs[j] = (byte)((lo & 0xF) | ((hi & 0xF) << 4));
                qh |= (uint)((lo >> 4) & 1) << j;
                qh |= (uint)((hi >> 4) & 1) << (j + 16);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(block.Slice(4, 4), qh);
        }
    }
}
