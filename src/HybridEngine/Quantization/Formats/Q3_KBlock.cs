namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q3_K (SPEC 2.6): 256 values per 110-byte block: <c>hmask[32]</c> (third bit), <c>qs[64]</c> (low two bits,
/// packed as <see cref="QuantMath.PackTwoBit"/>), <c>scales[12]</c> (sixteen 6-bit signed scales, offset 32),
/// <c>d</c> (fp16, last). Value = <c>d·s·(q − 4)</c> with q in 0..7; a set hmask bit means "no −4".
/// Value v's hmask bit is bit <c>v/32</c> of <c>hmask[v%32]</c>.
/// </summary>
public static class Q3_KBlock
{
    public const int BlockSize = QuantMath.SuperBlock;
    public const int BytesPerBlock = 110;

    /// <summary>As ggml's dequantize_row_q3_K: <c>y = (d·s)·(q − 4)</c>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            var hmask = block[..32];
            var packed = block.Slice(96, 12);
            float dAll = QuantMath.ReadHalf(block, 108);
            for (int g = 0; g < 16; g++)
            {
                float dl = dAll * Scale(packed, g);
                int half = g / 8, j = (g / 2) % 4, offset = 16 * (g % 2);
                var q = block.Slice(32 + 32 * half + offset, 16);
                var hm = hmask.Slice(offset, 16);
                int shift = 2 * j, bit = 4 * half + j;
                var yg = y.Slice(16 * g, 16);
                for (int l = 0; l < 16; l++)
                {
                    // A clear hmask bit subtracts 4: (bit ^ 1) << 2 is 4 or 0.
                    yg[l] = dl * (((q[l] >> shift) & 3) - ((((hm[l] >> bit) & 1) ^ 1) << 2));
                }
            }
        }
    }

    /// <summary>
    /// Signed scale g (0..15): low 4 bits from <c>scales[g]</c> (g &lt; 8) or the high nibble of
    /// <c>scales[g−8]</c>, high 2 bits from <c>scales[8 + g%4]</c> at bit <c>2·(g/4)</c>, minus 32.
    /// </summary>
    internal static int Scale(ReadOnlySpan<byte> packed, int g)
    {
        int lo = g < 8 ? packed[g] & 0xF : packed[g - 8] >> 4;
        int hi = (packed[8 + g % 4] >> (2 * (g / 4))) & 3;
        return (lo | (hi << 4)) - 32;
    }

    /// <summary>
    /// ggml's quantize_row_q3_K_ref: a signed scale per 16 values from <see cref="FitSignedScale"/> (nmax 4),
    /// 6-bit scales <c>clamp(nearest_int(−32·scale/max_scale), −32, 31)</c> against <c>d = max_scale/−32</c>
    /// (the scale of largest magnitude), then requantization with the stored values.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        Span<byte> levels = stackalloc byte[BlockSize];
        Span<float> scales = stackalloc float[16];
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var x = input.Slice(b * BlockSize, BlockSize);
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            float maxScale = 0, amax = 0;
            for (int g = 0; g < 16; g++)
            {
                scales[g] = FitSignedScale(4, x.Slice(16 * g, 16), levels.Slice(16 * g, 16));
                float scale = MathF.Abs(scales[g]);
                if (scale > amax) { amax = scale; maxScale = scales[g]; }
            }

            var packed = block.Slice(96, 12);
            packed.Clear();
            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int g = 0; g < 16; g++)
                {
                    // ggml keeps this in an int8_t, so nearest_int is narrowed before the clamp.
                    int l = Math.Clamp((int)(sbyte)QuantMath.NearestInt(iscale * scales[g]), -32, 31) + 32;
                    if (g < 8) packed[g] = (byte)(l & 0xF);
                    else packed[g - 8] |= (byte)((l & 0xF) << 4);
                    packed[8 + g % 4] |= (byte)((l >> 4) << (2 * (g / 4)));
                }
                QuantMath.WriteHalf(block, 108, 1 / iscale);
            }
            else
            {
                QuantMath.WriteHalf(block, 108, 0f);
            }

            float dAll = QuantMath.ReadHalf(block, 108);
            for (int g = 0; g < 16; g++)
            {
                float d = dAll * Scale(packed, g);
                // A group whose scale rounds to zero keeps the levels of the search, as in ggml.
                if (d == 0) continue;
                var xs = x.Slice(16 * g, 16);
                var ls = levels.Slice(16 * g, 16);
                for (int i = 0; i < 16; i++) ls[i] = (byte)(Math.Clamp(QuantMath.NearestInt(xs[i] / d), -4, 3) + 4);
            }

            var hmask = block[..32];
            hmask.Clear();
            for (int v = 0; v < BlockSize; v++)
            {
                if (levels[v] > 3)
                {
                    hmask[v % 32] |= (byte)(1 << (v / 32));
                    levels[v] -= 4;
                }
            }
            QuantMath.PackTwoBit(levels, block.Slice(32, 64));
        }
    }

    /// <summary>
    /// ggml's make_q3_quants with its least-squares refinement: levels in −nmax..nmax−1 from the value of largest
    /// magnitude, then up to five passes that move single levels to <c>nearest_int(x·Σwl²/Σwxl)</c> (w = x²,
    /// sums without that value) while the fit <c>(Σwxl)²/Σwl²</c> improves. Writes <c>L + nmax</c>
    /// and returns <c>Σwxl/Σwl²</c>; an all-zero group gives L = 0 and scale 0.
    /// </summary>
    private static float FitSignedScale(int nmax, ReadOnlySpan<float> x, Span<byte> levels)
    {
        int n = x.Length;
        Span<int> l = stackalloc int[16];
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < QuantMath.GroupMaxEps)
        {
            levels[..n].Clear();
            return 0f;
        }

        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            l[i] = Math.Clamp(QuantMath.NearestInt(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l[i];
            suml2 += w * l[i] * l[i];
        }
        for (int pass = 0; pass < 5; pass++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = x[i] * x[i];
                float slx = sumlx - w * x[i] * l[i];
                if (slx > 0)
                {
                    float sl2 = suml2 - w * l[i] * l[i];
                    int newL = Math.Clamp(QuantMath.NearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
                    if (newL != l[i])
                    {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            l[i] = newL;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) break;
        }
        for (int i = 0; i < n; i++) levels[i] = (byte)(l[i] + nmax);
        return suml2 > 0 ? sumlx / suml2 : 0f;
    }
}
