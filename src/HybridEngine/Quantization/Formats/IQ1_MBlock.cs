using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// IQ1_M: 256 values in 56 bytes, <c>qs[32], qh[16], scales[8]</c> and no separate d (SPEC 2.8).
/// <list type="bullet">
/// <item>The scales are four u16 <c>sc[0..3]</c>. Their top nibbles form the fp16 block scale
/// <c>d = fp16(sc0 &gt;&gt; 12 | (sc1 &gt;&gt; 8) &amp; 0xF0 | (sc2 &gt;&gt; 4) &amp; 0xF00 | sc3 &amp; 0xF000)</c>; their low 12 bits
/// hold sixteen 3-bit sub-scales, one per 16 values: sub-block ib (32 values) uses
/// <c>s1 = (sc[ib/2] &gt;&gt; 6(ib%2)) &amp; 7</c> for its first half and <c>s2 = (sc[ib/2] &gt;&gt; 6(ib%2)+3) &amp; 7</c>
/// for its second, with <c>dl = d·(2s + 1)</c>.</item>
/// <item>Each group of 8 values has an 11-bit index into <see cref="IqTables.Iq1sGrid"/>: 8 bits from qs and 3
/// from a qh nibble (bits 0..2); bit 3 of that nibble selects <c>delta = −0.125</c> (set) or <c>+0.125</c>.
/// Sub-block ib uses <c>qs[4ib..4ib+3]</c> and <c>qh[2ib]</c> (low nibble: group 0, high: group 1),
/// <c>qh[2ib+1]</c> (groups 2, 3).</item>
/// <item><c>y = dl·(grid[j] + delta)</c>.</item>
/// </list>
/// </summary>
public static class IQ1_MBlock
{
    public const int BlockSize = 256;
    public const int BlockBytes = 56;

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        ReadOnlySpan<ulong> grid = IqTables.Iq1sGrid;
        Span<int> sc = stackalloc int[4];
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            Span<float> y = output.Slice(b * BlockSize, BlockSize);
            ReadOnlySpan<byte> qs = block[..32];
            ReadOnlySpan<byte> qh = block.Slice(32, 16);
            for (int i = 0; i < 4; i++) sc[i] = BinaryPrimitives.ReadUInt16LittleEndian(block[(48 + 2 * i)..]);
            ushort dBits = (ushort)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000));
            float d = (float)BitConverter.UInt16BitsToHalf(dBits);
            for (int ib = 0; ib < 8; ib++)
            {
                int shift = 6 * (ib % 2);
                float dl1 = d * (2 * ((sc[ib / 2] >> shift) & 7) + 1);
                float dl2 = d * (2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1);
                for (int l = 0; l < 4; l++)
                {
                    int nibble = (qh[2 * ib + l / 2] >> (4 * (l % 2))) & 0xF;
                    ulong entry = grid[qs[4 * ib + l] | ((nibble & 7) << 8)];
                    float delta = (nibble & 8) != 0 ? -IQ1_SBlock.Delta : IQ1_SBlock.Delta;
                    float dl = l < 2 ? dl1 : dl2;
                    Span<float> ys = y.Slice(32 * ib + 8 * l, 8);
                    for (int j = 0; j < 8; j++) ys[j] = dl * ((sbyte)(entry >> (8 * j)) + delta);
                }
            }
        }
    }
}
