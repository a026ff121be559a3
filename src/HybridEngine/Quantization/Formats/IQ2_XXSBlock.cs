using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// IQ2_XXS: 256 values in 66 bytes, <c>d (fp16), qs[32] (u16)</c> (SPEC 2.8). Sub-block ib (32 values) is 8
/// bytes read as two little-endian u32 <c>a0, a1</c>:
/// <list type="bullet">
/// <item><c>db = d·(0.5 + (a1 &gt;&gt; 28))·0.25</c>;</item>
/// <item>group l (8 values) takes magnitudes from <see cref="IqTables.Iq2xxsGrid"/>[byte l of a0] and the sign
/// pattern <see cref="IqTables.KsignsIq2xs"/>[(a1 &gt;&gt; 7l) &amp; 127]; bit j set makes value j negative;</item>
/// <item><c>y[j] = db·grid[j]·(±1)</c>.</item>
/// </list>
/// </summary>
public static class IQ2_XXSBlock
{
    public const int BlockSize = 256;
    public const int BlockBytes = 66;

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        ReadOnlySpan<ulong> grid = IqTables.Iq2xxsGrid;
        ReadOnlySpan<byte> signs = IqTables.KsignsIq2xs;
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            Span<float> y = output.Slice(b * BlockSize, BlockSize);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            for (int ib = 0; ib < 8; ib++)
            {
                ReadOnlySpan<byte> q = block.Slice(2 + 8 * ib, 8);
                uint a1 = BinaryPrimitives.ReadUInt32LittleEndian(q[4..]);
                float db = d * (0.5f + (a1 >> 28)) * 0.25f;
                for (int l = 0; l < 4; l++)
                {
                    ulong entry = grid[q[l]];
                    int sign = signs[(int)((a1 >> (7 * l)) & 127)];
                    Span<float> ys = y.Slice(32 * ib + 8 * l, 8);
                    for (int j = 0; j < 8; j++)
                    {
                        ys[j] = db * (byte)(entry >> (8 * j)) * ((sign & (1 << j)) != 0 ? -1f : 1f);
                    }
                }
            }
        }
    }
}
