using System.Runtime.Intrinsics;

namespace HybridEngine.Kernels;

/// <summary>
/// SiLU (swish) activation: <c>silu(x) = x · σ(x) = x / (1 + e^(−x))</c>.
/// </summary>
/// <remarks>
/// The vector paths use the runtime's vectorised <c>Exp</c> (<see cref="Vector128.Exp(Vector128{float})"/> and its
/// wider siblings), which may differ from <see cref="MathF.Exp"/> in the last bits; the scalar twin uses
/// <see cref="MathF.Exp"/>, the same form as ggml's scalar <c>ggml_silu_f32</c>. For x → −∞, e^(−x) overflows to
/// +∞ and the result is −0, the right limit.
/// </remarks>
public static class Silu
{
    public static void Apply(ReadOnlySpan<float> x, Span<float> y, SimdLevel level) =>
        VectorMap.Unary(x, y, default(SiluOperator), level);

    public static void ApplyInPlace(Span<float> x, SimdLevel level) => Apply(x, x, level);

    /// <summary>The scalar reference twin.</summary>
    public static float Reference(float x) => x / (1.0f + MathF.Exp(-x));

    /// <summary>The operator, shared with <see cref="SwiGlu"/>.</summary>
    internal readonly struct SiluOperator : IUnaryOperator
    {
        public float Invoke(float x) => Reference(x);
        public Vector128<float> Invoke(Vector128<float> x) => x / (Vector128<float>.One + Vector128.Exp(-x));
        public Vector256<float> Invoke(Vector256<float> x) => x / (Vector256<float>.One + Vector256.Exp(-x));
        public Vector512<float> Invoke(Vector512<float> x) => x / (Vector512<float>.One + Vector512.Exp(-x));
    }
}
