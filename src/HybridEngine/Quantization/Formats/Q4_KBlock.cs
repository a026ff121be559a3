namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q4_K (SPEC 2.3): 256 values per 144-byte block: <c>d</c>, <c>dmin</c> (fp16), 12 bytes of packed 6-bit
/// scales and mins for eight 32-value sub-blocks, <c>qs[128]</c>. Value = <c>d·sc·q − dmin·m</c>, q in 0..15.
/// Chunk c (64 values) uses bytes <c>qs[32c..32c+31]</c>: low nibbles are sub-block 2c, high nibbles 2c+1.
/// </summary>
public static class Q4_KBlock
{
    public const int BlockSize = QuantMath.SuperBlock;
    public const int BytesPerBlock = 144;

    /// <summary>As ggml's dequantize_row_q4_K: <c>y = (d·sc)·q − (dmin·m)</c>.</summary>
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
            for (int c = 0; c < 4; c++)
            {
                var q = block.Slice(16 + 32 * c, 32);
                QuantMath.UnpackScaleMin(packed, 2 * c, out int sc1, out int m1);
                QuantMath.UnpackScaleMin(packed, 2 * c + 1, out int sc2, out int m2);
                float d1 = d * sc1, dm1 = min * m1;
                float d2 = d * sc2, dm2 = min * m2;
                var lo = y.Slice(64 * c, 32);
                var hi = y.Slice(64 * c + 32, 32);
                for (int l = 0; l < 32; l++)
                {
                    lo[l] = d1 * (q[l] & 0xF) - dm1;
                    hi[l] = d2 * (q[l] >> 4) - dm2;
                }
            }
        }
    }

    /// <summary>
    /// ggml's quantize_row_q4_K_ref (also what ggml_quantize_chunk does without an importance matrix): per
    /// 32-value sub-block a weighted scale/min search over 21 grids (<see cref="KQuantFit.ScaleMin"/> with
    /// nmax 15, rmin −1, rdelta 0.1, 20 steps), 6-bit scales and mins, then requantization with the stored values.
    /// Allocation-free.
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
            KQuantFit.QuantizeScaleMinBlock(input.Slice(b * BlockSize, BlockSize), block, levels, 15, -1f, 0.1f, 20, useLanes);
            for (int c = 0; c < 4; c++)
            {
                var q = block.Slice(16 + 32 * c, 32);
                var ls = levels.Slice(64 * c, 64);
                for (int l = 0; l < 32; l++) q[l] = (byte)(ls[l] | (ls[l + 32] << 4));
            }
        }
    }
}
