using System.Buffers.Binary;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// IQ1_S: 256 values in 50 bytes, <c>d (fp16), qs[32], qh[8] (u16)</c> (SPEC 2.8). Eight 32-value
/// sub-blocks ib; with <c>h = qh[ib]</c>: <c>dl = d·(2·((h &gt;&gt; 12) &amp; 7) + 1)</c>, <c>delta = ∓0.125</c>
/// (negative when bit 15 of h is set), and for each group l of 8 values an 11-bit index
/// <c>qs[4ib+l] | ((h &gt;&gt; 3l) &amp; 7) &lt;&lt; 8</c> into <see cref="IqTables.Iq1sGrid"/> (8 values in {−1, 0, 1}):
/// <c>y = dl·(grid[j] + delta)</c>.
/// </summary>
public static class IQ1_SBlock
{
    public const int BlockSize = 256;
    public const int BlockBytes = 50;

    /// <summary>ggml's IQ1S_DELTA: the shift that makes the ternary grid asymmetric.</summary>
    public const float Delta = 0.125f;

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        ReadOnlySpan<ulong> grid = IqTables.Iq1sGrid;
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            ReadOnlySpan<byte> block = blocks.Slice(b * BlockBytes, BlockBytes);
            Span<float> y = output.Slice(b * BlockSize, BlockSize);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            ReadOnlySpan<byte> qs = block.Slice(2, 32);
            ReadOnlySpan<byte> qh = block.Slice(34, 16);
            for (int ib = 0; ib < 8; ib++)
            {
                int h = BinaryPrimitives.ReadUInt16LittleEndian(qh[(2 * ib)..]);
                float dl = d * (2 * ((h >> 12) & 7) + 1);
                float delta = (h & 0x8000) != 0 ? -Delta : Delta;
                for (int l = 0; l < 4; l++)
                {
                    ulong entry = grid[qs[4 * ib + l] | (((h >> (3 * l)) & 7) << 8)];
                    Span<float> ys = y.Slice(32 * ib + 8 * l, 8);
                    for (int j = 0; j < 8; j++) ys[j] = dl * ((sbyte)(entry >> (8 * j)) + delta);
                }
            }
        }
    }
}
