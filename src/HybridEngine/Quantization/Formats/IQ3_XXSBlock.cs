using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// IQ3_XXS: 256 values in 98 bytes, <c>d (fp16), qs[64] grid indices, then 8 u32 scale/sign words</c> (SPEC 2.1).
/// Sub-block ib (32 values) uses grid bytes <c>qs[8ib..8ib+7]</c> and word <c>w = u32 ib</c> of the second part:
/// <list type="bullet">
/// <item><c>db = d·(0.5 + (w &gt;&gt; 28))·0.5</c>;</item>
/// <item>group l (8 values) takes 4 magnitudes from <see cref="IqTables.Iq3xxsGrid"/>[qs[2l]] then 4 from
/// [qs[2l+1]], with sign pattern <see cref="IqTables.KsignsIq2xs"/>[(w &gt;&gt; 7l) &amp; 127] (bit j set: value j negative);</item>
/// <item><c>y[j] = db·grid[j]·(±1)</c>.</item>
/// </list>
/// </summary>
public static class IQ3_XXSBlock
{
    public const int BlockSize = 256;
    public const int BlockBytes = 98;

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        ReadOnlySpan<uint> grid = IqTables.Iq3xxsGrid;
        ReadOnlySpan<byte> signs = IqTables.KsignsIq2xs;
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            Span<float> y = output.Slice(b * BlockSize, BlockSize);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            ReadOnlySpan<byte> qs = block.Slice(2, 64);
            ReadOnlySpan<byte> scalesAndSigns = block.Slice(66, 32);
            for (int ib = 0; ib < 8; ib++)
            {
                uint w = BinaryPrimitives.ReadUInt32LittleEndian(scalesAndSigns[(4 * ib)..]);
                float db = d * (0.5f + (w >> 28)) * 0.5f;
                for (int l = 0; l < 4; l++)
                {
                    int sign = signs[(int)((w >> (7 * l)) & 127)];
                    // Both 4-value grid entries as one 8-byte pattern: bytes 0..3 then 4..7.
                    ulong entry = grid[qs[8 * ib + 2 * l]] | ((ulong)grid[qs[8 * ib + 2 * l + 1]] << 32);
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
