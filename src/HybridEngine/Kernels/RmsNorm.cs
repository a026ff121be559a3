using System.Runtime.Intrinsics;

namespace HybridEngine.Kernels;

/// <summary>
/// RMS normalisation of a row, then an elementwise weight (SPEC 4: used for every norm of the model):
/// <code>
///   mean = (float)( Σ_j (double)(x[j]·x[j]) / n )      // squares in float, sum in double, as ggml
///   s    = 1 / sqrtf(mean + eps)
///   y[i] = (x[i] · s) · w[i]
/// </code>
/// </summary>
/// <remarks>
/// ggml (ops.cpp, <c>ggml_compute_forward_rms_norm_f32</c>) accumulates the sum of squares in <c>ggml_float</c>
/// (double) over float products, converts the mean to float, and takes the scale in float; llama.cpp then multiplies
/// by the weight in a separate (or fused) op as <c>(x·s)·w</c>. This kernel keeps that order so that, without FMA,
/// its result is the same float as ggml's for the same scale.
/// </remarks>
public static class RmsNorm
{
    /// <summary>The scale <c>s = 1/sqrt(mean(x²) + eps)</c> of a row.</summary>
    public static float Scale(ReadOnlySpan<float> x, float eps, SimdLevel level)
    {
        if (x.IsEmpty) throw new ArgumentException("RMS norm of an empty row", nameof(x));
        float mean = (float)(WideSum.SumOfSquares(x, level) / x.Length);
        return 1.0f / MathF.Sqrt(mean + eps);
    }

    /// <summary>y = rmsnorm(x) ⊙ w for one row. <paramref name="y"/> may be <paramref name="x"/> itself.</summary>
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps, SimdLevel level)
    {
        if (weight.Length != x.Length) throw new ArgumentException($"weight has {weight.Length} values for a row of {x.Length}", nameof(weight));
        if (x.IsEmpty) return;
        float s = Scale(x, eps, level);
        VectorMap.Binary(x, weight, y, new ScaleThenMultiply(s), level);
    }

    /// <summary>x ← rmsnorm(x) ⊙ w.</summary>
    public static void ApplyInPlace(Span<float> x, ReadOnlySpan<float> weight, float eps, SimdLevel level) =>
        Apply(x, weight, x, eps, level);

    /// <summary>Batched form: <paramref name="x"/> and <paramref name="y"/> are [tokens, hidden] row-major, one weight row.</summary>
    public static void ApplyRows(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, int tokens, float eps, SimdLevel level)
    {
        int hidden = weight.Length;
        if (x.Length != tokens * hidden || y.Length < tokens * hidden)
            throw new ArgumentException($"expected [{tokens}, {hidden}] rows, got {x.Length} inputs and {y.Length} outputs");
        for (int t = 0; t < tokens; t++)
            Apply(x.Slice(t * hidden, hidden), weight, y.Slice(t * hidden, hidden), eps, level);
    }

    /// <summary>The scalar reference twin: plain loops, same operation order as ggml.</summary>
    public static void Reference(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        if (x.IsEmpty) return;
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += (double)(x[i] * x[i]);
        float mean = (float)(sum / x.Length);
        float s = 1.0f / MathF.Sqrt(mean + eps);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * s * weight[i];
    }

    private readonly struct ScaleThenMultiply(float scale) : IBinaryOperator
    {
        private readonly float _scale = scale;
        public float Invoke(float x, float w) => x * _scale * w;
        public Vector128<float> Invoke(Vector128<float> x, Vector128<float> w) => x * _scale * w;
        public Vector256<float> Invoke(Vector256<float> x, Vector256<float> w) => x * _scale * w;
        public Vector512<float> Invoke(Vector512<float> x, Vector512<float> w) => x * _scale * w;
    }
}
