using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace HybridEngine.Kernels;

/// <summary>
/// Numerically stable softmax over the first L entries of a row, with a logit scale and a causal length:
/// <code>
///   z[i] = scale · x[i]                      i &lt; L
///   m    = max_{j&lt;L} z[j]
///   e[i] = exp(z[i] − m)                      (every e ≤ 1, so nothing overflows)
///   p[i] = e[i] · (float)(1 / Σ_{j&lt;L} (double)e[j])      i &lt; L
///   p[i] = 0                                  L ≤ i &lt; n  (masked: −∞ before the exp)
/// </code>
/// </summary>
/// <remarks>
/// The order (scale first, max of the scaled values, double sum, one float reciprocal) follows ggml's
/// <c>ggml_compute_forward_soft_max_f32</c>. If every valid logit is −∞ the row is NaN, as in ggml.
/// </remarks>
public static class Softmax
{
    /// <summary>Plain softmax of the whole row.</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> p, SimdLevel level) => Apply(x, p, 1.0f, x.Length, level);

    /// <summary>
    /// Softmax of <c>scale·x[0..validLength)</c>; entries from <paramref name="validLength"/> on are masked to 0.
    /// <paramref name="p"/> may be <paramref name="x"/> itself.
    /// </summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> p, float scale, int validLength, SimdLevel level)
    {
        int n = x.Length;
        if (p.Length < n) throw new ArgumentException("destination is shorter than the source", nameof(p));
        if ((uint)validLength > (uint)n) throw new ArgumentOutOfRangeException(nameof(validLength), $"must be in 0..{n}");
        Span<float> valid = p[..validLength];
        if (validLength > 0)
        {
            VectorMap.Unary(x[..validLength], valid, new Scale(scale), level);
            float max = level == SimdLevel.Scalar ? ScalarMax(valid) : TensorPrimitives.Max(valid);
            VectorMap.Unary(valid, valid, new ExpShifted(max), level);
            double sum = WideSum.Sum(valid, level);
            float inverse = (float)(1.0 / sum);
            VectorMap.Unary(valid, valid, new Scale(inverse), level);
        }
        p[validLength..n].Clear();
    }

    public static void ApplyInPlace(Span<float> x, float scale, int validLength, SimdLevel level) =>
        Apply(x, x, scale, validLength, level);

    /// <summary>The scalar reference twin: plain loops in the same order.</summary>
    public static void Reference(ReadOnlySpan<float> x, Span<float> p, float scale, int validLength)
    {
        if (validLength > 0)
        {
            float max = float.NegativeInfinity;
            for (int i = 0; i < validLength; i++)
            {
                p[i] = scale * x[i];
                max = MathF.Max(max, p[i]);
            }
            double sum = 0;
            for (int i = 0; i < validLength; i++)
            {
                p[i] = MathF.Exp(p[i] - max);
                sum += p[i];
            }
            float inverse = (float)(1.0 / sum);
            for (int i = 0; i < validLength; i++) p[i] *= inverse;
        }
        for (int i = validLength; i < x.Length; i++) p[i] = 0;
    }

    private static float ScalarMax(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) max = MathF.Max(max, v);
        return max;
    }

    private readonly struct Scale(float factor) : IUnaryOperator
    {
        private readonly float _factor = factor;
        public float Invoke(float x) => _factor * x;
        public Vector128<float> Invoke(Vector128<float> x) => x * _factor;
        public Vector256<float> Invoke(Vector256<float> x) => x * _factor;
        public Vector512<float> Invoke(Vector512<float> x) => x * _factor;
    }

    private readonly struct ExpShifted(float shift) : IUnaryOperator
    {
        private readonly float _shift = shift;
        public float Invoke(float x) => MathF.Exp(x - _shift);
        public Vector128<float> Invoke(Vector128<float> x) => Vector128.Exp(x - Vector128.Create(_shift));
        public Vector256<float> Invoke(Vector256<float> x) => Vector256.Exp(x - Vector256.Create(_shift));
        public Vector512<float> Invoke(Vector512<float> x) => Vector512.Exp(x - Vector512.Create(_shift));
    }
}
