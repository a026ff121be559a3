namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q5_K (SPEC 2.3): 256 values per 176-byte block: <c>d</c>, <c>dmin</c> (fp16), 12 bytes of packed 6-bit
/// scales and mins, <c>qh[32]</c>, <c>qs[128]</c>. As Q4_K plus a fifth bit: value l of chunk c takes bit 2c
/// (low-nibble half) or 2c+1 (high-nibble half) of <c>qh[l]</c>, so q runs 0..31.
/// </summary>
public static class Q5_KBlock
{
    public const int BlockSize = QuantMath.SuperBlock;
    public const int BytesPerBlock = 176;

    /// <summary>As ggml's dequantize_row_q5_K: <c>y = (d·sc)·(q + 16·bit) − (dmin·m)</c>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(block, 0);
            float min = QuantMath.ReadHalf(block, 2);
            var packed = block.Slice(4, 12);
            var qh = block.Slice(16, 32);
            for (int c = 0; c < 4; c++)
            {
                var ql = block.Slice(48 + 32 * c, 32);
                QuantMath.UnpackScaleMin(packed, 2 * c, out int sc1, out int m1);
                QuantMath.UnpackScaleMin(packed, 2 * c + 1, out int sc2, out int m2);
                float d1 = d * sc1, dm1 = min * m1;
                float d2 = d * sc2, dm2 = min * m2;
                int shift1 = 2 * c, shift2 = 2 * c + 1;
                var lo = y.Slice(64 * c, 32);
                var hi = y.Slice(64 * c + 32, 32);
                for (int l = 0; l < 32; l++)
                {
                    int h = qh[l], q = ql[l];
                    lo[l] = d1 * ((q & 0xF) | (((h >> shift1) & 1) << 4)) - dm1;
                    hi[l] = d2 * ((q >> 4) | (((h >> shift2) & 1) << 4)) - dm2;
                }
            }
        }
    }

    /// <summary>
    /// ggml's quantize_row_q5_K_ref: as Q4_K with nmax 31 and a shorter search (rmin −0.5, rdelta 0.1,
    /// 15 steps); the fifth bit of each level goes to <c>qh</c>. Allocation-free.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        Quantize(input, blocks, KQuantFit.LanesByDefault);

    /// <summary>As <see cref="Quantize(ReadOnlySpan{float}, Span{byte})"/>, choosing the search path (same bytes either way).</summary>
    internal static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks, bool useLanes)
    {
        Span<byte> levels = stackalloc byte[BlockSize];
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            KQuantFit.QuantizeScaleMinBlock(input.Slice(b * BlockSize, BlockSize), block, levels, 31, -0.5f, 0.1f, 15, useLanes);
            var qh = block.Slice(16, 32);
            qh.Clear();
            for (int c = 0; c < 4; c++)
            {
                var ql = block.Slice(48 + 32 * c, 32);
                var ls = levels.Slice(64 * c, 64);
                byte bit1 = (byte)(1 << (2 * c)), bit2 = (byte)(2 << (2 * c));
                for (int j = 0; j < 32; j++)
                {
                    int l1 = ls[j], l2 = ls[j + 32];
                    if (l1 > 15) { l1 -= 16; qh[j] |= bit1; }
                    if (l2 > 15) { l2 -= 16; qh[j] |= bit2; }
                    ql[j] = (byte)(l1 | (l2 << 4));
                }
            }
        }
    }
}
