using System.Runtime.Intrinsics;

namespace HybridEngine.Kernels;

/// <summary>
/// Rotary position embedding on the first n_rot dims of each head (the rest pass through unchanged):
/// <code>
///   out0 = x0·cos_i − x1·sin_i
///   out1 = x0·sin_i + x1·cos_i
/// </code>
/// with (x0, x1) = (x[2i], x[2i+1]) for <see cref="RopeMode.Norm"/> and (x[i], x[i + n_rot/2]) for
/// <see cref="RopeMode.Neox"/>; cos_i/sin_i (YaRN-blended angle, magnitude included) come from <see cref="RopeParameters"/>.
/// </summary>
/// <remarks>
/// Without FMA contraction the vector paths perform the same float operations as the scalar twin, so all paths
/// agree bit for bit: for Norm the vector form is <c>x·[c c] + swapPairs(x)·[−s +s]</c>, and x1·(−s) = −(x1·s) exactly.
/// </remarks>
public static class Rope
{
    /// <summary>
    /// Rotates, in place, <paramref name="heads"/> heads laid out every <paramref name="headStride"/> floats, starting
    /// <paramref name="offset"/> floats into each head (e.g. the q_pe slice after q_nope in MLA).
    /// </summary>
    public static unsafe void Apply(Span<float> x, int heads, int headStride, int position, RopeTable table, SimdLevel level, int offset = 0)
    {
        int n = table.Parameters.RotaryDims;
        CheckLayout(x.Length, heads, headStride, offset, n);
        ReadOnlySpan<float> row = table.Row(position);
        level = Simd.Clamp(level);
        fixed (float* px = x)
        fixed (float* pr = row)
        {
            for (int h = 0; h < heads; h++)
            {
                float* head = px + (long)h * headStride + offset;
                if (table.Parameters.Mode == RopeMode.Norm) RotateNorm(head, pr, pr + n, n, level);
                else RotateNeox(head, pr, pr + n / 2, n / 2, level);
            }
        }
    }

    /// <summary>Batched form: <paramref name="x"/> is [tokens, heads·headStride], token t at <c>positions[t]</c>.</summary>
    public static void ApplyRows(Span<float> x, int tokens, int heads, int headStride, ReadOnlySpan<int> positions, RopeTable table, SimdLevel level, int offset = 0)
    {
        if (positions.Length < tokens) throw new ArgumentException($"{positions.Length} positions for {tokens} tokens", nameof(positions));
        int width = heads * headStride;
        if (x.Length < tokens * width) throw new ArgumentException($"expected [{tokens}, {width}] values, got {x.Length}", nameof(x));
        for (int t = 0; t < tokens; t++)
            Apply(x.Slice(t * width, width), heads, headStride, positions[t], table, level, offset);
    }

    /// <summary>The scalar reference twin: computes the angles itself (no table) and rotates pair by pair.</summary>
    public static void Reference(Span<float> x, int heads, int headStride, int position, RopeParameters parameters, int offset = 0)
    {
        int n = parameters.RotaryDims;
        CheckLayout(x.Length, heads, headStride, offset, n);
        Span<float> cos = stackalloc float[n / 2];
        Span<float> sin = stackalloc float[n / 2];
        parameters.ComputeRow(position, cos, sin);
        int step = parameters.Mode == RopeMode.Norm ? 1 : n / 2;
        for (int h = 0; h < heads; h++)
        {
            int start = h * headStride + offset;
            for (int i = 0; i < n / 2; i++)
            {
                int i0 = start + (parameters.Mode == RopeMode.Norm ? 2 * i : i);
                int i1 = i0 + step;
                float x0 = x[i0], x1 = x[i1];
                x[i0] = x0 * cos[i] - x1 * sin[i];
                x[i1] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }

    private static void CheckLayout(int length, int heads, int headStride, int offset, int rotaryDims)
    {
        if (offset < 0 || offset + rotaryDims > headStride)
            throw new ArgumentException($"RoPE dims [{offset}, {offset + rotaryDims}) do not fit a head of {headStride}");
        if ((long)heads * headStride > length)
            throw new ArgumentException($"{heads} heads of {headStride} need {(long)heads * headStride} values, got {length}");
    }

    // cos2 = [c0 c0 c1 c1 …], sinSigned = [−s0 +s0 −s1 +s1 …], n = rotary dims.
    private static unsafe void RotateNorm(float* x, float* cos2, float* sinSigned, int n, SimdLevel level)
    {
        int j = 0;
        switch (level)
        {
            case SimdLevel.Avx512:
            {
                var swap = Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
                for (; j <= n - 16; j += 16)
                {
                    var v = Vector512.Load(x + j);
                    Vector512.Store(v * Vector512.Load(cos2 + j) + Vector512.Shuffle(v, swap) * Vector512.Load(sinSigned + j), x + j);
                }
                goto case SimdLevel.Avx2;
            }
            case SimdLevel.Avx2:
            {
                var swap = Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6);
                for (; j <= n - 8; j += 8)
                {
                    var v = Vector256.Load(x + j);
                    Vector256.Store(v * Vector256.Load(cos2 + j) + Vector256.Shuffle(v, swap) * Vector256.Load(sinSigned + j), x + j);
                }
                goto case SimdLevel.Vector128;
            }
            case SimdLevel.Vector128:
            {
                var swap = Vector128.Create(1, 0, 3, 2);
                for (; j <= n - 4; j += 4)
                {
                    var v = Vector128.Load(x + j);
                    Vector128.Store(v * Vector128.Load(cos2 + j) + Vector128.Shuffle(v, swap) * Vector128.Load(sinSigned + j), x + j);
                }
                break;
            }
        }
        for (; j < n; j += 2)
        {
            float x0 = x[j], x1 = x[j + 1];
            float c = cos2[j], s = sinSigned[j + 1];
            x[j] = x0 * c - x1 * s;
            x[j + 1] = x0 * s + x1 * c;
        }
    }

    // Pairs (x[i], x[i + half]); cos and sin hold `half` values each.
    private static unsafe void RotateNeox(float* x, float* cos, float* sin, int half, SimdLevel level)
    {
        float* hi = x + half;
        int i = 0;
        switch (level)
        {
            case SimdLevel.Avx512:
                for (; i <= half - 16; i += 16)
                {
                    var a = Vector512.Load(x + i); var b = Vector512.Load(hi + i);
                    var c = Vector512.Load(cos + i); var s = Vector512.Load(sin + i);
                    Vector512.Store(a * c - b * s, x + i);
                    Vector512.Store(a * s + b * c, hi + i);
                }
                goto case SimdLevel.Avx2;
            case SimdLevel.Avx2:
                for (; i <= half - 8; i += 8)
                {
                    var a = Vector256.Load(x + i); var b = Vector256.Load(hi + i);
                    var c = Vector256.Load(cos + i); var s = Vector256.Load(sin + i);
                    Vector256.Store(a * c - b * s, x + i);
                    Vector256.Store(a * s + b * c, hi + i);
                }
                goto case SimdLevel.Vector128;
            case SimdLevel.Vector128:
                for (; i <= half - 4; i += 4)
                {
                    var a = Vector128.Load(x + i); var b = Vector128.Load(hi + i);
                    var c = Vector128.Load(cos + i); var s = Vector128.Load(sin + i);
                    Vector128.Store(a * c - b * s, x + i);
                    Vector128.Store(a * s + b * c, hi + i);
                }
                break;
        }
        for (; i < half; i++)
        {
            float a = x[i], b = hi[i];
            x[i] = a * cos[i] - b * sin[i];
            hi[i] = a * sin[i] + b * cos[i];
        }
    }
}
