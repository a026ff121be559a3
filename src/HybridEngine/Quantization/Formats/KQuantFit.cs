namespace HybridEngine.Quantization.Formats;

/// <summary>
/// The scale-and-min search shared by the K-quant reference quantizers (Q2_K, Q4_K, Q5_K). It is ggml's
/// <c>make_qkx2_quants</c> with the same float operations in the same order, so the chosen levels, and hence
/// the file bytes, are identical to ggml's.
/// </summary>
internal static class KQuantFit
{
    /// <summary>Whether the quantizers run their searches eight groups per vector by default (identical results either way).</summary>
    public static readonly bool LanesByDefault = System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated;

    /// <summary>
    /// Fits <c>x ≈ scale·L − theMin</c> with integer levels <c>L</c> in 0..<paramref name="nmax"/>, minimising
    /// the weighted squared (or absolute, <paramref name="useMad"/>) error. Starts from the min/max grid, then tries
    /// <c>nstep + 1</c> grids <c>iscale = (rmin + rdelta·is + nmax)/(max − min)</c>; for each it solves the
    /// weighted least-squares line through the levels (clamping the min at 0) and keeps the best.
    /// The min is never positive, so <paramref name="theMin"/> (its negation) is ≥ 0.
    /// </summary>
    /// <returns>The scale; 0 when all values are equal.</returns>
    public static float ScaleMin(
        int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> levels, Span<byte> scratch,
        float rmin, float rdelta, int nstep, bool useMad, out float theMin)
    {
        int n = x.Length;
        weights = weights[..n];
        levels = levels[..n];
        scratch = scratch[..n];

        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            levels.Clear();
            theMin = -min;
            return 0f;
        }

        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(QuantMath.NearestInt(iscale * (x[i] - min)), 0, nmax);
            levels[i] = (byte)l;
            float diff = scale * l + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1)
        {
            theMin = -min;
            return scale;
        }

        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(QuantMath.NearestInt(iscale * (x[i] - min)), 0, nmax);
                scratch[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * scratch[i] + thisMin - x[i];
                    diff = useMad ? MathF.Abs(diff) : diff * diff;
                    error += weights[i] * diff;
                }
                if (error < bestError)
                {
                    scratch.CopyTo(levels);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>
    /// The common part of ggml's quantize_row_q4_K_ref and quantize_row_q5_K_ref for one 256-block: fit eight
    /// 32-value sub-blocks (weights <c>sqrt(mean x²) + |x|</c>), quantize their scales and mins to 6 bits against
    /// <c>d = max scale/63</c> and <c>dmin = max min/63</c>, then requantize every value with the stored
    /// (fp16-rounded) numbers: <c>L = clamp(nearest_int((x + dmin·m)/(d·sc)), 0, nmax)</c>.
    /// Writes the 16-byte header (d, dmin, packed scales) and the 256 levels. <paramref name="useLanes"/> runs the
    /// eight searches together (<see cref="KQuantFitLanes"/>, same bits), worth it where Vector256 is hardware.
    /// </summary>
    public static void QuantizeScaleMinBlock(
        ReadOnlySpan<float> x, Span<byte> header, Span<byte> levels, int nmax, float rmin, float rdelta, int nstep,
        bool useLanes)
    {
        Span<float> weights = stackalloc float[256];
        Span<float> scales = stackalloc float[8];
        Span<float> mins = stackalloc float[8];
        Span<byte> scratch = stackalloc byte[32];
        Span<byte> scaleLevels = stackalloc byte[8];
        Span<byte> minLevels = stackalloc byte[8];

        for (int j = 0; j < 8; j++)
        {
            var xs = x.Slice(32 * j, 32);
            var ws = weights.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += xs[l] * xs[l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) ws[l] = avX + MathF.Abs(xs[l]);
        }
        if (useLanes)
        {
            KQuantFitLanes.ScaleMin(32, nmax, x, weights, levels, scales, mins, rmin, rdelta, nstep, false);
        }
        else
        {
            for (int j = 0; j < 8; j++)
            {
                scales[j] = ScaleMin(nmax, x.Slice(32 * j, 32), weights.Slice(32 * j, 32), levels.Slice(32 * j, 32),
                    scratch, rmin, rdelta, nstep, false, out mins[j]);
            }
        }
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }

        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++)
        {
            // ggml stores nearest_int into a uint8_t before clamping, so an out-of-range value wraps first.
            scaleLevels[j] = Math.Min((byte)63, (byte)QuantMath.NearestInt(invScale * scales[j]));
            minLevels[j] = Math.Min((byte)63, (byte)QuantMath.NearestInt(invMin * mins[j]));
        }
        var packed = header.Slice(4, 12);
        QuantMath.PackScaleMin(scaleLevels, minLevels, packed);
        QuantMath.WriteHalf(header, 0, maxScale / 63f);
        QuantMath.WriteHalf(header, 2, maxMin / 63f);

        float dAll = QuantMath.ReadHalf(header, 0);
        float minAll = QuantMath.ReadHalf(header, 2);
        for (int j = 0; j < 8; j++)
        {
            QuantMath.UnpackScaleMin(packed, j, out int sc, out int m);
            float d = dAll * sc;
            // A sub-block whose scale rounds to zero keeps the levels of the search above, as in ggml.
            if (d == 0) continue;
            float dm = minAll * m;
            var xs = x.Slice(32 * j, 32);
            var ls = levels.Slice(32 * j, 32);
            for (int i = 0; i < 32; i++)
            {
                ls[i] = (byte)Math.Clamp(QuantMath.NearestInt((xs[i] + dm) / d), 0, nmax);
            }
        }
    }
}
