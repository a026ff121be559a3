using HybridEngine.Quantization;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// The CPU dot-product kernel for each weight type: <c>float dot(byte* weightRow, byte* activationRow, int blocks)</c>,
/// where the activation row is already in the weight type's dot type (<see cref="QuantTypeInfo.DotType"/>,
/// quantized by <see cref="ActivationQuantizer"/>) and <c>blocks</c> counts weight blocks (elements for float types).
/// <para>What each <see cref="SimdLevel"/> runs: <c>Scalar</c> is the reference twin; <c>Vector128</c> is portable
/// 128-bit code (the IQ1/IQ2/IQ3 types fall back to their scalar twin there); <c>Avx2</c> is 256-bit AVX2 + FMA;
/// <c>Avx512</c> runs the 256-bit kernels with vpdpbusd (AVX-VNNI) for the int8 products where the CPU has it,
/// 512-bit FMA for F32 weights, and 512-bit kernels for Q4_K. Multi-token forms (<see cref="GetDot4"/>) exist for Q4_K (AVX-512) and for Q8_0,
/// Q5_0 and Q4_0 (both AVX levels). The K-quants and IQ4_XS use pmaddubsw + pmaddwd (which folds in the scales) on
/// both AVX levels. Every level computes the same exact integer block sums; only float accumulation order differs.</para>
/// <para>Kernels are marked AggressiveOptimization: they run hot from the first token, and unoptimized (tier-0) code
/// for vector intrinsics is many times slower.</para>
/// </summary>
public static unsafe class DotKernels
{
    /// <summary>Every weight type with a dot kernel.</summary>
    public static IReadOnlyList<GgmlType> SupportedTypes { get; } =
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS,
        GgmlType.IQ1_S, GgmlType.IQ1_M, GgmlType.IQ2_XXS, GgmlType.IQ2_XS, GgmlType.IQ3_XXS,
    ];

    public static bool IsSupported(GgmlType type) => SupportedTypes.Contains(type);

    /// <summary>
    /// Whether <paramref name="type"/> has a one-row × several-token kernel at <paramref name="level"/>:
    /// <c>void dot4(byte* weightRow, byte* activations, long activationStride, int tokens, int blocks, float* y, long yStride)</c>
    /// writes <c>y[t·yStride] = dot(weightRow, activations + t·activationStride)</c> for t &lt; tokens
    /// (1..<see cref="MultiTokenWidth"/>). It unpacks each weight block once for all those tokens; the matrix-matrix
    /// product sends tokens through it that many at a time.
    /// </summary>
    public static bool HasDot4(GgmlType type, SimdLevel level) => GetDot4(type, level) != null;

    /// <summary>
    /// Most tokens one call of <see cref="GetDot4"/>'s kernel takes: 8 for Q4_K on AVX-512 (its block unpacking is
    /// the larger share, so eight tokens share it), 4 for the others, 0 where there is none.
    /// </summary>
    public static int MultiTokenWidth(GgmlType type, SimdLevel level) =>
        GetDot4(type, level) == null ? 0 : type == GgmlType.Q4_K ? Q4_KAvx512.MaxTokens : 4;

    /// <summary>The multi-token kernel (see <see cref="HasDot4"/>; 1 to <see cref="MultiTokenWidth"/> tokens), or null.</summary>
    public static delegate*<byte*, byte*, long, int, int, float*, long, void> GetDot4(GgmlType type, SimdLevel level)
    {
        level = Simd.Clamp(level);
        if (level < SimdLevel.Avx2) return null;
        bool vnni = level == SimdLevel.Avx512 && System.Runtime.Intrinsics.X86.AvxVnni.IsSupported;
        return type switch
        {
            GgmlType.Q4_K when level == SimdLevel.Avx512 => &Q4_KAvx512.Dot4,
            GgmlType.Q8_0 => vnni ? &Block32Dot4.Dot4<Q8_0Block32, WithVnni> : &Block32Dot4.Dot4<Q8_0Block32, NoVnni>,
            GgmlType.Q5_0 => vnni ? &Block32Dot4.Dot4<Q5_0Block32, WithVnni> : &Block32Dot4.Dot4<Q5_0Block32, NoVnni>,
            GgmlType.Q4_0 => vnni ? &Block32Dot4.Dot4<Q4_0Block32, WithVnni> : &Block32Dot4.Dot4<Q4_0Block32, NoVnni>,
            _ => null,
        };
    }

    /// <summary>The kernel for <paramref name="type"/> at <paramref name="level"/> (capped at what this CPU runs).</summary>
    public static delegate*<byte*, byte*, int, float> Get(GgmlType type, SimdLevel level)
    {
        level = Simd.Clamp(level);
        return type switch
        {
            GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => FloatDot.For(type, level),
            GgmlType.Q8_0 => Q8_0Dot.For(level),
            GgmlType.Q4_0 => Q4_0Dot.For(level),
            GgmlType.Q5_0 => Q5_0Dot.For(level),
            GgmlType.IQ4_NL => IQ4_NLDot.For(level),
            GgmlType.Q4_1 => Q4_1Dot.For(level, fiveBit: false),
            GgmlType.Q5_1 => Q4_1Dot.For(level, fiveBit: true),
            GgmlType.Q2_K => Q2_KDot.For(level),
            GgmlType.Q3_K => Q3_KDot.For(level),
            GgmlType.Q4_K => Q4_KDot.For(level),
            GgmlType.Q5_K => Q5_KDot.For(level),
            GgmlType.Q6_K => Q6_KDot.For(level),
            GgmlType.IQ4_XS => IQ4_XSDot.For(level),
            GgmlType.IQ1_S or GgmlType.IQ1_M => IQ1Dot.For(type, level),
            GgmlType.IQ2_XXS or GgmlType.IQ2_XS => IQ2Dot.For(type, level),
            GgmlType.IQ3_XXS => IQ3_XXSDot.For(level),
            _ => throw new NotSupportedException(
                $"No CPU dot kernel for weight type {type}; supported: {string.Join(", ", SupportedTypes)}."),
        };
    }
}
