namespace HybridEngine.Kernels;

/// <summary>
/// <c>y[n] = Σ_k W[n][k]·x[k]</c>: the one-token case of <see cref="MatMul"/> (same quantize-then-integer-dot numerics).
/// </summary>
public static class MatVec
{
    /// <summary>Scratch bytes for the quantized copy of x.</summary>
    public static int ScratchBytes(in WeightMatrix w) => MatMul.ScratchBytes(w, 1);

    /// <summary>Quantizes <paramref name="x"/> (RowLength values) into <paramref name="scratch"/> and writes Rows values to <paramref name="y"/>.</summary>
    public static void Run(in WeightMatrix w, ReadOnlySpan<float> x, Span<float> y, Span<byte> scratch,
        ComputePool? pool = null, SimdLevel? level = null) =>
        MatMul.Run(w, x, 1, y, scratch, pool, level);

    /// <summary>With x already quantized to the weight's dot type (shared across several matrices).</summary>
    public static void RunQuantized(in WeightMatrix w, ReadOnlySpan<byte> activation, Span<float> y,
        ComputePool? pool = null, SimdLevel? level = null) =>
        MatMul.RunQuantized(w, activation, 1, y, pool, level);
}
