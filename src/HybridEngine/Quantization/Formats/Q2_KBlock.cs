namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q2_K (SPEC 2.5): 256 values per 84-byte block: <c>scales[16]</c> (low nibble scale, high nibble min, one
/// pair per 16 values), <c>qs[64]</c> (2-bit levels, packed as <see cref="QuantMath.PackTwoBit"/>), then
/// <c>d</c>, <c>dmin</c> (fp16). Value = <c>d·sc·q − dmin·m</c>, q in 0..3.
/// </summary>
public static class Q2_KBlock
{
    public const int BlockSize = QuantMath.SuperBlock;
    public const int BytesPerBlock = 84;

    /// <summary>As ggml's dequantize_row_q2_K: <c>y = (d·sc)·q − (dmin·m)</c>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(block, 80);
            float min = QuantMath.ReadHalf(block, 82);
            for (int g = 0; g < 16; g++)
            {
                // Group g covers values 16g..16g+15: half g/8, shift 2·((g/2)%4), bytes 16·(g%2).. of that half.
                int sc = block[g];
                float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                var q = block.Slice(16 + 32 * (g / 8) + 16 * (g % 2), 16);
                int shift = 2 * ((g / 2) % 4);
                var yg = y.Slice(16 * g, 16);
                for (int l = 0; l < 16; l++) yg[l] = dl * ((q[l] >> shift) & 3) - ml;
            }
        }
    }

    /// <summary>
    /// ggml's quantize_row_q2_K_ref: per 16 values a scale/min search with weights |x| minimising absolute error
    /// (<see cref="KQuantFit.ScaleMin"/> with nmax 3, rmin −0.5, rdelta 0.1, 15 steps), 4-bit scales and mins
    /// against <c>d = max scale/15</c>, <c>dmin = max min/15</c>, then requantization with the stored values.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks) =>
        Quantize(input, blocks, KQuantFit.LanesByDefault);

    /// <summary>As <see cref="Quantize(ReadOnlySpan{float}, Span{byte})"/>, choosing the search path (same bytes either way).</summary>
    internal static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks, bool useLanes)
    {
        Span<byte> levels = stackalloc byte[BlockSize];
        Span<byte> scratch = stackalloc byte[16];
        Span<float> weights = stackalloc float[BlockSize];
        Span<float> scales = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var x = input.Slice(b * BlockSize, BlockSize);
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            for (int i = 0; i < BlockSize; i++) weights[i] = MathF.Abs(x[i]);
            if (useLanes)
            {
                for (int half = 0; half < 2; half++)
                {
                    KQuantFitLanes.ScaleMin(16, 3, x.Slice(128 * half, 128), weights.Slice(128 * half, 128),
                        levels.Slice(128 * half, 128), scales.Slice(8 * half, 8), mins.Slice(8 * half, 8), -0.5f, 0.1f, 15, true);
                }
            }
            else
            {
                for (int g = 0; g < 16; g++)
                {
                    scales[g] = KQuantFit.ScaleMin(3, x.Slice(16 * g, 16), weights.Slice(16 * g, 16), levels.Slice(16 * g, 16),
                        scratch, -0.5f, 0.1f, 15, true, out mins[g]);
                }
            }
            float maxScale = 0, maxMin = 0;
            for (int g = 0; g < 16; g++)
            {
                if (scales[g] > maxScale) maxScale = scales[g];
                if (mins[g] > maxMin) maxMin = mins[g];
            }

            var packed = block[..16];
            if (maxScale > 0)
            {
                float iscale = 15f / maxScale;
                for (int g = 0; g < 16; g++) packed[g] = (byte)QuantMath.NearestInt(iscale * scales[g]);
                QuantMath.WriteHalf(block, 80, maxScale / 15f);
            }
            else
            {
                packed.Clear();
                QuantMath.WriteHalf(block, 80, 0f);
            }
            if (maxMin > 0)
            {
                float iscale = 15f / maxMin;
                for (int g = 0; g < 16; g++) packed[g] |= (byte)(QuantMath.NearestInt(iscale * mins[g]) << 4);
                QuantMath.WriteHalf(block, 82, maxMin / 15f);
            }
            else
            {
                QuantMath.WriteHalf(block, 82, 0f);
            }

            float dAll = QuantMath.ReadHalf(block, 80);
            float minAll = QuantMath.ReadHalf(block, 82);
            for (int g = 0; g < 16; g++)
            {
                float d = dAll * (packed[g] & 0xF);
                // A group whose scale rounds to zero keeps the levels of the search, as in ggml.
                if (d == 0) continue;
                float dm = minAll * (packed[g] >> 4);
                var xs = x.Slice(16 * g, 16);
                var ls = levels.Slice(16 * g, 16);
                for (int i = 0; i < 16; i++) ls[i] = (byte)Math.Clamp(QuantMath.NearestInt((xs[i] + dm) / d), 0, 3);
            }
            QuantMath.PackTwoBit(levels, block.Slice(16, 64));
        }
    }
}
