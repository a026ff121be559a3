using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// <see cref="KQuantFit.ScaleMin"/> for eight groups at once, one group per <see cref="Vector256{T}"/> lane.
/// Each lane performs exactly the scalar routine's float operations in the same order (its running sums still
/// add value 0, 1, 2, … of its own group), so the results are bit-identical; only independent groups share an
/// instruction. This is what makes the K-quant file quantizer fast: the scalar search is bound by the latency
/// of its sequential sums.
/// </summary>
internal static class KQuantFitLanes
{
    public const int Lanes = 8;

    /// <summary>
    /// Fits eight consecutive groups of <paramref name="n"/> values of <paramref name="x"/> (natural layout, weights
    /// alike). Writes the 8·n levels in natural layout, the eight scales and the eight (non-negative) mins;
    /// same arguments and results as calling <see cref="KQuantFit.ScaleMin"/> on each group.
    /// </summary>
    public static void ScaleMin(
        int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> levels,
        Span<float> scales, Span<float> theMins, float rmin, float rdelta, int nstep, bool useMad)
    {
        if (n > 32) throw new ArgumentOutOfRangeException(nameof(n), n, "groups of at most 32 values");
        // Transposed copies: element i of lane k at [i·8 + k], so one vector holds value i of all eight groups.
        Span<float> xBuffer = stackalloc float[Lanes * 32];
        Span<float> wBuffer = stackalloc float[Lanes * 32];
        Span<int> bestBuffer = stackalloc int[Lanes * 32];
        Span<int> trialBuffer = stackalloc int[Lanes * 32];
        for (int k = 0; k < Lanes; k++)
        {
            for (int i = 0; i < n; i++)
            {
                xBuffer[i * Lanes + k] = x[k * n + i];
                wBuffer[i * Lanes + k] = weights[k * n + i];
            }
        }
        var xs = MemoryMarshal.Cast<float, Vector256<float>>(xBuffer)[..n];
        var ws = MemoryMarshal.Cast<float, Vector256<float>>(wBuffer)[..n];
        var best = MemoryMarshal.Cast<int, Vector256<int>>(bestBuffer)[..n];
        var trial = MemoryMarshal.Cast<int, Vector256<int>>(trialBuffer)[..n];

        var zero = Vector256<float>.Zero;
        var top = Vector256.Create(nmax);
        var min = xs[0];
        var max = xs[0];
        var sumW = ws[0];
        var sumX = sumW * xs[0];
        for (int i = 1; i < n; i++)
        {
            min = Vector256.ConditionalSelect(Vector256.LessThan(xs[i], min), xs[i], min);
            max = Vector256.ConditionalSelect(Vector256.GreaterThan(xs[i], max), xs[i], max);
            sumW += ws[i];
            sumX += ws[i] * xs[i];
        }
        min = Vector256.ConditionalSelect(Vector256.GreaterThan(min, zero), zero, min);
        // Lanes with max == min return at once in the scalar routine; here they compute along and are overwritten.
        var flat = Vector256.Equals(max, min);
        var flatMin = min;

        var iscale = Vector256.Create((float)nmax) / (max - min);
        var scale = Vector256.Create(1f) / iscale;
        var bestError = zero;
        for (int i = 0; i < n; i++)
        {
            var l = Levels(iscale, xs[i], min, top);
            best[i] = l;
            var diff = scale * Vector256.ConvertToSingle(l) + min - xs[i];
            diff = useMad ? Vector256.Abs(diff) : diff * diff;
            bestError += ws[i] * diff;
        }

        for (int step = 0; nstep >= 1 && step <= nstep; step++)
        {
            iscale = Vector256.Create(rmin + rdelta * step + nmax) / (max - min);
            var sumL = zero;
            var sumL2 = zero;
            var sumXL = zero;
            for (int i = 0; i < n; i++)
            {
                var l = Levels(iscale, xs[i], min, top);
                trial[i] = l;
                var lf = Vector256.ConvertToSingle(l);
                var wl = ws[i] * lf;
                sumL += wl;
                sumL2 += wl * lf;
                sumXL += wl * xs[i];
            }
            var det = sumW * sumL2 - sumL * sumL;
            var solvable = Vector256.GreaterThan(det, zero);
            if (solvable == Vector256<float>.Zero) continue;

            var thisScale = (sumW * sumXL - sumX * sumL) / det;
            var thisMin = (sumL2 * sumX - sumL * sumXL) / det;
            var clampMin = Vector256.GreaterThan(thisMin, zero);
            thisMin = Vector256.ConditionalSelect(clampMin, zero, thisMin);
            thisScale = Vector256.ConditionalSelect(clampMin, sumXL / sumL2, thisScale);
            var error = zero;
            for (int i = 0; i < n; i++)
            {
                var diff = thisScale * Vector256.ConvertToSingle(trial[i]) + thisMin - xs[i];
                diff = useMad ? Vector256.Abs(diff) : diff * diff;
                error += ws[i] * diff;
            }
            var better = solvable & Vector256.LessThan(error, bestError);
            if (better == Vector256<float>.Zero) continue;
            var betterInt = better.AsInt32();
            for (int i = 0; i < n; i++) best[i] = Vector256.ConditionalSelect(betterInt, trial[i], best[i]);
            bestError = Vector256.ConditionalSelect(better, error, bestError);
            scale = Vector256.ConditionalSelect(better, thisScale, scale);
            min = Vector256.ConditionalSelect(better, thisMin, min);
        }

        scale = Vector256.ConditionalSelect(flat, zero, scale);
        min = Vector256.ConditionalSelect(flat, flatMin, min);
        var flatInt = flat.AsInt32();
        for (int i = 0; i < n; i++) best[i] = Vector256.ConditionalSelect(flatInt, Vector256<int>.Zero, best[i]);
        for (int k = 0; k < Lanes; k++)
        {
            scales[k] = scale[k];
            theMins[k] = -min[k];
            for (int i = 0; i < n; i++) levels[k * n + i] = (byte)bestBuffer[i * Lanes + k];
        }
    }

    /// <summary><c>clamp(nearest_int(iscale·(x − min)), 0, nmax)</c> per lane, with ggml's magic-number rounding.</summary>
    private static Vector256<int> Levels(Vector256<float> iscale, Vector256<float> x, Vector256<float> min, Vector256<int> top)
    {
        var shifted = iscale * (x - min) + Vector256.Create(12582912f);
        var l = (shifted.AsInt32() & Vector256.Create(0x007fffff)) - Vector256.Create(0x00400000);
        return Vector256.Min(Vector256.Max(l, Vector256<int>.Zero), top);
    }
}
