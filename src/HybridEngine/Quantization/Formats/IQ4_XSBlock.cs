using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// IQ4_XS: 256 values in 136 bytes, <c>d (fp16), scales_h (u16), scales_l[4], qs[128]</c> (SPEC 2.1).
/// Eight 32-value sub-blocks, each an IQ4_NL block without its own d: a 6-bit scale
/// <c>ls = (low nibble ib of scales_l) | (bits 2ib..2ib+1 of scales_h) &lt;&lt; 4</c> gives <c>dl = d·(ls − 32)</c>,
/// and <c>y[j] = dl·kvalues[qs[j] &amp; 15]</c>, <c>y[j+16] = dl·kvalues[qs[j] &gt;&gt; 4]</c> over the sub-block's 16 bytes.
/// </summary>
public static class IQ4_XSBlock
{
    public const int BlockSize = 256;
    public const int BlockBytes = 136;

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        ReadOnlySpan<sbyte> levels = IqTables.KvaluesIq4nl;
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            Span<float> y = output.Slice(b * BlockSize, BlockSize);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            int scalesHigh = BinaryPrimitives.ReadUInt16LittleEndian(block[2..]);
            ReadOnlySpan<byte> scalesLow = block.Slice(4, 4);
            ReadOnlySpan<byte> qs = block.Slice(8, 128);
            for (int ib = 0; ib < 8; ib++)
            {
                int ls = ((scalesLow[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesHigh >> (2 * ib)) & 3) << 4);
                float dl = d * (ls - 32);
                ReadOnlySpan<byte> q = qs.Slice(16 * ib, 16);
                Span<float> ys = y.Slice(32 * ib, 32);
                for (int j = 0; j < 16; j++)
                {
                    ys[j] = dl * levels[q[j] & 0xF];
                    ys[j + 16] = dl * levels[q[j] >> 4];
                }
            }
        }
    }
}
