using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q8_0 (SPEC 2.2, 2.9): 32 values per 34-byte block, <c>d</c> (fp16) then <c>qs[32]</c> (int8); <c>y = d·q</c>.
/// Also the activation format the CPU dot products pair with Q4_0, Q5_0, Q8_0 and IQ4_NL.
/// </summary>
public static class Q8_0Block
{
    public const int BlockSize = 32;
    public const int BytesPerBlock = 34;

    /// <summary>The block's scale d.</summary>
    public static float Scale(ReadOnlySpan<byte> block) => QuantMath.ReadHalf(block, 0);

    /// <summary>The block's 32 signed quants.</summary>
    public static ReadOnlySpan<sbyte> Quants(ReadOnlySpan<byte> block) =>
        MemoryMarshal.Cast<byte, sbyte>(block.Slice(2, BlockSize));

    /// <summary><c>y[j] = d·qs[j]</c>, as ggml's dequantize_row_q8_0.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(block, 0);
            var qs = Quants(block);
            for (int j = 0; j < BlockSize; j++) y[j] = qs[j] * d;
        }
    }

    /// <summary>
    /// ggml's quantize_row_q8_0_ref: <c>amax = max|x|</c>, <c>d = amax/127</c>, <c>q = roundf(x·(1/d))</c>
    /// (halves away from zero; q = 0 when d = 0). The unrounded d is used for the quants, the fp16 d is stored.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var qs = MemoryMarshal.Cast<byte, sbyte>(block.Slice(2, BlockSize));
            float d = QuantizeBlock(input.Slice(b * BlockSize, BlockSize), qs);
            QuantMath.WriteHalf(block, 0, d);
        }
    }

    /// <summary>
    /// Quantizes whole 32-blocks into caller-owned arrays (no allocation), the layout SIMD dot products prefer:
    /// <paramref name="scales"/>[b] is the block's <b>fp16-rounded</b> d as a float (the value the packed block
    /// holds and ggml's dot products use), <paramref name="quants"/>[32b..] its quants. Reference rule.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<float> scales, Span<sbyte> quants)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            float d = QuantizeBlock(input.Slice(b * BlockSize, BlockSize), quants.Slice(b * BlockSize, BlockSize));
            scales[b] = (float)(Half)d;
        }
    }

    /// <summary>As <see cref="Quantize(ReadOnlySpan{float}, Span{float}, Span{sbyte})"/> with the rule of <see cref="QuantizeAsCpuBackend(ReadOnlySpan{float}, Span{byte})"/>.</summary>
    public static void QuantizeAsCpuBackend(ReadOnlySpan<float> input, Span<float> scales, Span<sbyte> quants)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            float d = QuantizeBlockAsCpuBackend(input.Slice(b * BlockSize, BlockSize), quants.Slice(b * BlockSize, BlockSize));
            scales[b] = (float)(Half)d;
        }
    }

    /// <summary>
    /// Quantizes one block of 32 values into <paramref name="quants"/> (no allocation) with the reference rule and
    /// returns the <b>unrounded</b> scale d; the packed block, and so every dot product, uses <c>(float)(Half)d</c>.
    /// </summary>
    public static float QuantizeBlock(ReadOnlySpan<float> x, Span<sbyte> quants) =>
        Vector256.IsHardwareAccelerated ? QuantizeBlockVector(x, quants, false) : QuantizeBlockScalar(x, quants, false);

    /// <summary>
    /// The rule of ggml-cpu's x86 SIMD quantize_row_q8_0 (its AVX, AVX2 and AVX-512 builds, which llama.cpp runs
    /// for activations on x86): <c>d = amax/127</c> stored as fp16, <c>q = round_half_even(x·(127/amax))</c>.
    /// It differs from <see cref="Quantize(ReadOnlySpan{float}, Span{byte})"/> (<c>x·(1/d)</c>, halves away from zero) by one quant in roughly one
    /// block of 8,500 gaussian blocks; use it to reproduce llama.cpp's CPU activations bit for bit.
    /// </summary>
    public static void QuantizeAsCpuBackend(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var qs = MemoryMarshal.Cast<byte, sbyte>(block.Slice(2, BlockSize));
            float d = QuantizeBlockAsCpuBackend(input.Slice(b * BlockSize, BlockSize), qs);
            QuantMath.WriteHalf(block, 0, d);
        }
    }

    /// <summary>One block with the rule of <see cref="QuantizeAsCpuBackend(ReadOnlySpan{float}, Span{byte})"/>; returns the unrounded d as <see cref="QuantizeBlock"/> does.</summary>
    public static float QuantizeBlockAsCpuBackend(ReadOnlySpan<float> x, Span<sbyte> quants) =>
        Vector256.IsHardwareAccelerated ? QuantizeBlockVector(x, quants, true) : QuantizeBlockScalar(x, quants, true);

    /// <summary>Scalar form of both rules: reference (<c>roundf(x·(1/d))</c>) or CPU backend (<c>rint(x·(127/amax))</c>).</summary>
    internal static float QuantizeBlockScalar(ReadOnlySpan<float> x, Span<sbyte> quants, bool cpuBackendRule)
    {
        x = x[..BlockSize];
        quants = quants[..BlockSize];
        float amax = 0f;
        for (int j = 0; j < BlockSize; j++)
        {
            // C's MAX(a, b) = a > b ? a : b, NaN behaviour included (MathF.Max would differ).
            float ax = MathF.Abs(x[j]);
            amax = amax > ax ? amax : ax;
        }
        float d = amax / 127f;
        if (cpuBackendRule)
        {
            float id = amax != 0f ? 127f / amax : 0f;
            for (int j = 0; j < BlockSize; j++) quants[j] = (sbyte)QuantMath.TruncateToInt(MathF.Round(x[j] * id, MidpointRounding.ToEven));
        }
        else
        {
            float id = d != 0f ? 1f / d : 0f;
            for (int j = 0; j < BlockSize; j++) quants[j] = (sbyte)QuantMath.TruncateToInt(QuantMath.RoundAway(x[j] * id));
        }
        return d;
    }

    /// <summary>
    /// Vector form of <see cref="QuantizeBlockScalar"/>: the same float operations per value. Rounding away from
    /// zero is <c>trunc(p) ± 1</c> when the (exact) fraction <c>p − trunc(p)</c> reaches one half. A NaN in the
    /// block falls back to the scalar routine, whose maximum skips NaNs.
    /// </summary>
    internal static float QuantizeBlockVector(ReadOnlySpan<float> x, Span<sbyte> quants, bool cpuBackendRule)
    {
        var xs = MemoryMarshal.Cast<float, Vector256<float>>(x[..BlockSize]);
        var nan = Vector256.IsNaN(xs[0]) | Vector256.IsNaN(xs[1]) | Vector256.IsNaN(xs[2]) | Vector256.IsNaN(xs[3]);
        if (nan != Vector256<float>.Zero) return QuantizeBlockScalar(x, quants, cpuBackendRule);
        var peak = Vector256.Max(
            Vector256.Max(Vector256.Abs(xs[0]), Vector256.Abs(xs[1])),
            Vector256.Max(Vector256.Abs(xs[2]), Vector256.Abs(xs[3])));
        float amax = peak[0];
        for (int k = 1; k < Vector256<float>.Count; k++) amax = MathF.Max(amax, peak[k]);

        float d = amax / 127f;
        float id = cpuBackendRule ? (amax != 0f ? 127f / amax : 0f) : (d != 0f ? 1f / d : 0f);
        var scale = Vector256.Create(id);
        var q0 = ToInt(Rounded(xs[0] * scale, cpuBackendRule));
        var q1 = ToInt(Rounded(xs[1] * scale, cpuBackendRule));
        var q2 = ToInt(Rounded(xs[2] * scale, cpuBackendRule));
        var q3 = ToInt(Rounded(xs[3] * scale, cpuBackendRule));
        // Narrow truncates, keeping the low byte as C's store into int8_t does.
        MemoryMarshal.Cast<sbyte, Vector256<sbyte>>(quants[..BlockSize])[0] =
            Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256.Narrow(q2, q3));
        return d;
    }

    private static Vector256<float> Rounded(Vector256<float> p, bool halfToEven)
    {
        if (halfToEven) return Vector256.Round(p);
        var whole = Vector256.Truncate(p);
        var half = Vector256.GreaterThanOrEqual(Vector256.Abs(p - whole), Vector256.Create(0.5f));
        return whole + (half & Vector256.CopySign(Vector256.Create(1f), p));
    }

    /// <summary>Float to int as x86 C code converts: truncation, and int.MinValue for NaN or out-of-range values.</summary>
    private static Vector256<int> ToInt(Vector256<float> r)
    {
        var inRange = Vector256.LessThan(Vector256.Abs(r), Vector256.Create(2147483648f)).AsInt32();
        return Vector256.ConditionalSelect(inRange, Vector256.ConvertToInt32(r), Vector256.Create(int.MinValue));
    }
}
