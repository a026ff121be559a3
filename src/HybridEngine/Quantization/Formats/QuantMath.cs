using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Small pieces shared by the block formats: fp16 fields, ggml's <c>nearest_int</c> and the 6-bit
/// scale/min packing of Q4_K and Q5_K (SPEC 2.3). Every routine reproduces ggml's float operations
/// in the same order, because the quantizers must produce the same bytes as ggml's.
/// </summary>
public static class QuantMath
{
    /// <summary>Super-block size of the K-quants (ggml's QK_K).</summary>
    public const int SuperBlock = 256;

    /// <summary>ggml's GROUP_MAX_EPS: groups whose largest magnitude is below it count as all zero.</summary>
    public const float GroupMaxEps = 1e-15f;

    /// <summary>Reads the little-endian fp16 at <paramref name="offset"/> as a float (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ReadHalf(ReadOnlySpan<byte> block, int offset) =>
        (float)BinaryPrimitives.ReadHalfLittleEndian(block.Slice(offset, 2));

    /// <summary>Writes <paramref name="value"/> as a little-endian fp16, rounded to nearest even (ggml's GGML_FP32_TO_FP16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteHalf(Span<byte> block, int offset, float value) =>
        BinaryPrimitives.WriteHalfLittleEndian(block.Slice(offset, 2), (Half)value);

    /// <summary>
    /// ggml's <c>nearest_int</c>: adding 1.5·2^23 puts the rounded integer in the low mantissa bits, so the
    /// result is round-half-to-even for |x| ≤ 2^22. Outside that range it returns the same wrapped value
    /// ggml does (the quantizers can hit it when a scale is tiny), so it is kept as a bit trick, not Math.Round.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NearestInt(float value)
    {
        float shifted = value + 12582912f;
        int bits = BitConverter.SingleToInt32Bits(shifted);
        return (bits & 0x007fffff) - 0x00400000;
    }

    /// <summary>
    /// C's float-to-integer conversion as x86-64 compilers emit it (cvttss2si): truncation toward zero, and
    /// 0x80000000 for NaN or out-of-range values (where .NET would saturate). The legacy quantizers then narrow
    /// that to a byte, so only the low bits matter; it only shows for degenerate inputs such as subnormal blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int TruncateToInt(float value) =>
        value >= -2147483648f && value < 2147483648f ? (int)value : int.MinValue;

    /// <summary>C's <c>roundf</c>: nearest integer, halves away from zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundAway(float value) => MathF.Round(value, MidpointRounding.AwayFromZero);

    /// <summary>
    /// Unpacks scale and min of sub-block <paramref name="j"/> (0..7) from the 12 packed bytes of Q4_K/Q5_K:
    /// j &lt; 4: <c>sc = q[j]&amp;63, m = q[j+4]&amp;63</c>; j ≥ 4: <c>sc = (q[j+4]&amp;0xF) | (q[j-4]&gt;&gt;6)&lt;&lt;4</c>,
    /// <c>m = (q[j+4]&gt;&gt;4) | (q[j]&gt;&gt;6)&lt;&lt;4</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UnpackScaleMin(ReadOnlySpan<byte> packed, int j, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = packed[j] & 63;
            min = packed[j + 4] & 63;
        }
        else
        {
            scale = (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
            min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
        }
    }

    /// <summary>
    /// Packs eight 6-bit scales and mins into 12 bytes, the inverse of <see cref="UnpackScaleMin"/>.
    /// Values above 63 have already been clamped by the caller.
    /// </summary>
    public static void PackScaleMin(ReadOnlySpan<byte> scales, ReadOnlySpan<byte> mins, Span<byte> packed)
    {
        for (int j = 0; j < 8; j++)
        {
            int ls = scales[j], lm = mins[j];
            if (j < 4)
            {
                packed[j] = (byte)ls;
                packed[j + 4] = (byte)lm;
            }
            else
            {
                // Bytes j-4 and j were written with values ≤ 63 in the first four steps; their top bits take the high bits here.
                packed[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte)((ls >> 4) << 6);
                packed[j] |= (byte)((lm >> 4) << 6);
            }
        }
    }

    /// <summary>
    /// Packs 256 two-bit values (0..3) as Q2_K and Q3_K store them: for each 128-value half, byte l of its
    /// 32 bytes holds values l, l+32, l+64 and l+96 at bit offsets 0, 2, 4 and 6.
    /// </summary>
    public static void PackTwoBit(ReadOnlySpan<byte> levels, Span<byte> qs)
    {
        for (int half = 0; half < 2; half++)
        {
            var src = levels.Slice(128 * half, 128);
            var dst = qs.Slice(32 * half, 32);
            for (int l = 0; l < 32; l++)
            {
                dst[l] = (byte)(src[l] | (src[l + 32] << 2) | (src[l + 64] << 4) | (src[l + 96] << 6));
            }
        }
    }
}
