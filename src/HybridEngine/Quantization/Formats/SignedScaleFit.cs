using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// ggml's make_qx_quants (rmse_type 1, no importance weights): the signed-scale search of the Q6_K reference
/// quantizer, as a scalar routine and as an eight-lane vector twin with the same bits.
/// </summary>
internal static class SignedScaleFit
{
    /// <summary>
    /// ggml's make_qx_quants with rmse_type 1 and no importance weights: levels <c>L − nmax</c> in
    /// −nmax..nmax−1 around the value of largest magnitude, then 18 nearby grids
    /// <c>iscale = −(nmax + 0.1·is)/max</c> scored by the weighted (w = x²) least-squares fit
    /// <c>(Σwxl)²/Σwl²</c>. Writes <c>L</c> (0..2·nmax−1) and returns the least-squares scale; an all-zero group
    /// gives L = 0 and scale 0. Used by Q6_K (nmax 32).
    /// </summary>
    public static float FitSignedScale(int nmax, ReadOnlySpan<float> x, Span<byte> levels)
    {
        int n = x.Length;
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
            int l = Math.Clamp(QuantMath.NearestInt(iscale * x[i]), -nmax, nmax - 1);
            levels[i] = (byte)(l + nmax);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f;
        float best = scale * sumlx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(QuantMath.NearestInt(iscale * x[i]), -nmax, nmax - 1);
                float w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++)
                {
                    levels[i] = (byte)(Math.Clamp(QuantMath.NearestInt(iscale * x[i]), -nmax, nmax - 1) + nmax);
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /// <summary>
    /// <see cref="FitSignedScale"/> for eight consecutive groups of <paramref name="n"/> values at once, one group
    /// per <see cref="Vector256{T}"/> lane, each lane doing the scalar routine's float operations in the same order
    /// (bit-identical results). Writes 8·n levels in natural layout and eight scales.
    /// </summary>
    public static void FitSignedScaleLanes(int nmax, int n, ReadOnlySpan<float> x, Span<byte> levels, Span<float> scales)
    {
        if (n > 32) throw new ArgumentOutOfRangeException(nameof(n), n, "groups of at most 32 values");
        const int Lanes = 8;
        Span<float> xBuffer = stackalloc float[Lanes * 32];
        Span<int> bestBuffer = stackalloc int[Lanes * 32];
        Span<int> trialBuffer = stackalloc int[Lanes * 32];
        for (int k = 0; k < Lanes; k++)
        {
            for (int i = 0; i < n; i++) xBuffer[i * Lanes + k] = x[k * n + i];
        }
        var xs = MemoryMarshal.Cast<float, Vector256<float>>(xBuffer)[..n];
        var best = MemoryMarshal.Cast<int, Vector256<int>>(bestBuffer)[..n];
        var trial = MemoryMarshal.Cast<int, Vector256<int>>(trialBuffer)[..n];

        var zero = Vector256<float>.Zero;
        var max = zero;
        var amax = zero;
        for (int i = 0; i < n; i++)
        {
            var ax = Vector256.Abs(xs[i]);
            var larger = Vector256.GreaterThan(ax, amax);
            amax = Vector256.ConditionalSelect(larger, ax, amax);
            max = Vector256.ConditionalSelect(larger, xs[i], max);
        }
        // All-zero lanes return at once in the scalar routine; here they compute along and are overwritten.
        var allZero = Vector256.LessThan(amax, Vector256.Create(QuantMath.GroupMaxEps));

        var sumlx = zero;
        var suml2 = zero;
        SignedSums(Vector256.Create((float)-nmax) / max, nmax, xs, best, ref sumlx, ref suml2);
        var scale = Vector256.ConditionalSelect(Vector256.Equals(suml2, zero), zero, sumlx / suml2);
        var bestFit = scale * sumlx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            var iscale = Vector256.Create(-(nmax + 0.1f * step)) / max;
            sumlx = suml2 = zero;
            SignedSums(iscale, nmax, xs, trial, ref sumlx, ref suml2);
            var better = Vector256.GreaterThan(suml2, zero) & Vector256.GreaterThan(sumlx * sumlx, bestFit * suml2);
            if (better == Vector256<float>.Zero) continue;
            var betterInt = better.AsInt32();
            for (int i = 0; i < n; i++) best[i] = Vector256.ConditionalSelect(betterInt, trial[i], best[i]);
            scale = Vector256.ConditionalSelect(better, sumlx / suml2, scale);
            bestFit = Vector256.ConditionalSelect(better, scale * sumlx, bestFit);
        }

        scale = Vector256.ConditionalSelect(allZero, zero, scale);
        var allZeroInt = allZero.AsInt32();
        for (int i = 0; i < n; i++) best[i] = Vector256.ConditionalSelect(allZeroInt, Vector256<int>.Zero, best[i]);
        for (int k = 0; k < Lanes; k++)
        {
            scales[k] = scale[k];
            for (int i = 0; i < n; i++) levels[k * n + i] = (byte)bestBuffer[i * Lanes + k];
        }
    }

    /// <summary>
    /// Levels <c>L = clamp(nearest_int(iscale·x), −nmax, nmax−1) + nmax</c> into <paramref name="levels"/> and the
    /// sums <c>Σ(x²·x)·l</c> and <c>Σ(x²·l)·l</c> in value order.
    /// </summary>
    private static void SignedSums(
        Vector256<float> iscale, int nmax, ReadOnlySpan<Vector256<float>> xs, Span<Vector256<int>> levels,
        ref Vector256<float> sumlx, ref Vector256<float> suml2)
    {
        var low = Vector256.Create(-nmax);
        var high = Vector256.Create(nmax - 1);
        var offset = Vector256.Create(nmax);
        for (int i = 0; i < xs.Length; i++)
        {
            var shifted = iscale * xs[i] + Vector256.Create(12582912f);
            var l = (shifted.AsInt32() & Vector256.Create(0x007fffff)) - Vector256.Create(0x00400000);
            l = Vector256.Min(Vector256.Max(l, low), high);
            levels[i] = l + offset;
            var lf = Vector256.ConvertToSingle(l);
            var w = xs[i] * xs[i];
            sumlx += w * xs[i] * lf;
            suml2 += w * lf * lf;
        }
    }
}
