using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// IQ2_XS: 256 values in 74 bytes, <c>d (fp16), qs[32] (u16), scales[8]</c> (SPEC 2.1). Sub-block ib (32 values)
/// has two 4-bit scales in <c>scales[ib]</c>: the low nibble s scales groups 0, 1 and the high nibble groups 2, 3,
/// as <c>db = d·(0.5 + s)·0.25</c>. Group l (8 values) is one u16 <c>q = qs[4ib+l]</c>: its low 9 bits index
/// <see cref="IqTables.Iq2xsGrid"/> (8 magnitudes) and its top 7 bits index <see cref="IqTables.KsignsIq2xs"/>
/// (bit j set makes value j negative): <c>y[j] = db·grid[j]·(±1)</c>.
/// </summary>
public static class IQ2_XSBlock
{
    public const int BlockSize = 256;
    public const int BlockBytes = 74;

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        ReadOnlySpan<ulong> grid = IqTables.Iq2xsGrid;
        ReadOnlySpan<byte> signs = IqTables.KsignsIq2xs;
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            Span<float> y = output.Slice(b * BlockSize, BlockSize);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            ReadOnlySpan<byte> qs = block.Slice(2, 64);
            ReadOnlySpan<byte> scales = block.Slice(66, 8);
            for (int ib = 0; ib < 8; ib++)
            {
                float dbLow = d * (0.5f + (scales[ib] & 0xF)) * 0.25f;
                float dbHigh = d * (0.5f + (scales[ib] >> 4)) * 0.25f;
                for (int l = 0; l < 4; l++)
                {
                    int q = BinaryPrimitives.ReadUInt16LittleEndian(qs[(8 * ib + 2 * l)..]);
                    ulong entry = grid[q & 511];
                    int sign = signs[q >> 9];
                    float db = l < 2 ? dbLow : dbHigh;
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
