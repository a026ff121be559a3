using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace HybridEngine.Quantization.Formats;

/// <summary>
/// Q8_K (SPEC 2.9): the activation format the CPU dot products pair with every K-quant and IQ type.
/// 292-byte block of 256 values: <c>d</c> (<b>float32</b>, may be negative), <c>qs[256]</c> (int8),
/// <c>bsums[16]</c> (int16, the sum of each run of 16 quants); <c>y = d·q</c>.
/// </summary>
public static class Q8_KBlock
{
    public const int BlockSize = QuantMath.SuperBlock;
    public const int BytesPerBlock = 292;
    public const int GroupCount = BlockSize / 16;

    private const int QuantsOffset = 4;
    private const int SumsOffset = QuantsOffset + BlockSize;

    /// <summary>The block's float32 scale d.</summary>
    public static float Scale(ReadOnlySpan<byte> block) => BinaryPrimitives.ReadSingleLittleEndian(block);

    /// <summary>The block's 256 signed quants.</summary>
    public static ReadOnlySpan<sbyte> Quants(ReadOnlySpan<byte> block) =>
        MemoryMarshal.Cast<byte, sbyte>(block.Slice(QuantsOffset, BlockSize));

    /// <summary>The block's 16 group sums (<c>bsums[g] = Σ qs[16g..16g+15]</c>).</summary>
    public static ReadOnlySpan<short> GroupSums(ReadOnlySpan<byte> block) =>
        MemoryMarshal.Cast<byte, short>(block.Slice(SumsOffset, 2 * GroupCount));

    /// <summary><c>y[j] = d·qs[j]</c>, as ggml's dequantize_row_q8_K.</summary>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        int count = output.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var y = output.Slice(b * BlockSize, BlockSize);
            float d = Scale(block);
            var qs = Quants(block);
            for (int j = 0; j < BlockSize; j++) y[j] = d * qs[j];
        }
    }

    /// <summary>Quantizes whole 256-blocks into the packed 292-byte layout (ggml's quantize_row_q8_K_ref). Fields are little-endian, as on every host this engine runs on.</summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BytesPerBlock, BytesPerBlock);
            var qs = MemoryMarshal.Cast<byte, sbyte>(block.Slice(QuantsOffset, BlockSize));
            var sums = MemoryMarshal.Cast<byte, short>(block.Slice(SumsOffset, 2 * GroupCount));
            float d = QuantizeBlock(input.Slice(b * BlockSize, BlockSize), qs, sums);
            BinaryPrimitives.WriteSingleLittleEndian(block, d);
        }
    }

    /// <summary>
    /// Quantizes whole 256-blocks into separate caller-owned arrays (no allocation), the layout SIMD dot
    /// products prefer: <paramref name="scales"/>[b], <paramref name="quants"/>[256b..], <paramref name="groupSums"/>[16b..].
    /// Same numbers as <see cref="Quantize"/>.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> input, Span<float> scales, Span<sbyte> quants, Span<short> groupSums)
    {
        int count = input.Length / BlockSize;
        for (int b = 0; b < count; b++)
        {
            scales[b] = QuantizeBlock(
                input.Slice(b * BlockSize, BlockSize),
                quants.Slice(b * BlockSize, BlockSize),
                groupSums.Slice(b * GroupCount, GroupCount));
        }
    }

    /// <summary>
    /// One block: find the element of largest magnitude, keeping its sign (<c>max</c>; the first one on ties);
    /// <c>iscale = -127/max</c>, <c>q = min(127, nearest_int(iscale·x))</c> (round half to even),
    /// group sums of 16, and returns <c>d = 1/iscale</c>. An all-zero block gives d = 0, q = 0, sums 0.
    /// Runs eight values per vector where Vector256 is hardware; every value gets the same float operations,
    /// so the result is the same as the scalar routine's.
    /// </summary>
    public static float QuantizeBlock(ReadOnlySpan<float> x, Span<sbyte> quants, Span<short> groupSums) =>
        Vector256.IsHardwareAccelerated
            ? QuantizeBlockVector(x, quants, groupSums)
            : QuantizeBlockScalar(x, quants, groupSums);

    /// <summary>The scalar form of <see cref="QuantizeBlock"/>, ggml's loop as written.</summary>
    internal static float QuantizeBlockScalar(ReadOnlySpan<float> x, Span<sbyte> quants, Span<short> groupSums)
    {
        x = x[..BlockSize];
        quants = quants[..BlockSize];
        groupSums = groupSums[..GroupCount];

        float max = 0f, amax = 0f;
        for (int j = 0; j < BlockSize; j++)
        {
            float ax = MathF.Abs(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax == 0f)
        {
            quants.Clear();
            groupSums.Clear();
            return 0f;
        }

        float iscale = -127f / max;
        for (int j = 0; j < BlockSize; j++)
        {
            quants[j] = (sbyte)Math.Min(127, QuantMath.NearestInt(iscale * x[j]));
        }
        for (int g = 0; g < GroupCount; g++)
        {
            int sum = 0;
            var group = quants.Slice(16 * g, 16);
            for (int i = 0; i < 16; i++) sum += group[i];
            groupSums[g] = (short)sum;
        }
        return 1f / iscale;
    }

    /// <summary>
    /// The vector form of <see cref="QuantizeBlock"/>. The largest magnitude is found with vector maxima, then the
    /// first element reaching it supplies the sign, which is the element the scalar loop keeps. A NaN in the block
    /// (the scalar loop skips NaNs, a vector maximum does not) falls back to the scalar routine.
    /// </summary>
    internal static float QuantizeBlockVector(ReadOnlySpan<float> x, Span<sbyte> quants, Span<short> groupSums)
    {
        x = x[..BlockSize];
        quants = quants[..BlockSize];
        groupSums = groupSums[..GroupCount];
        var xs = MemoryMarshal.Cast<float, Vector256<float>>(x);

        var peak = Vector256<float>.Zero;
        var nan = Vector256<float>.Zero;
        for (int c = 0; c < xs.Length; c++)
        {
            peak = Vector256.Max(peak, Vector256.Abs(xs[c]));
            nan |= Vector256.IsNaN(xs[c]);
        }
        if (nan != Vector256<float>.Zero) return QuantizeBlockScalar(x, quants, groupSums);
        float amax = peak[0];
        for (int k = 1; k < Vector256<float>.Count; k++) amax = MathF.Max(amax, peak[k]);
        if (amax == 0f)
        {
            quants.Clear();
            groupSums.Clear();
            return 0f;
        }

        float max = 0f;
        var target = Vector256.Create(amax);
        for (int c = 0; c < xs.Length; c++)
        {
            uint hits = Vector256.Equals(Vector256.Abs(xs[c]), target).ExtractMostSignificantBits();
            if (hits != 0)
            {
                max = x[8 * c + System.Numerics.BitOperations.TrailingZeroCount(hits)];
                break;
            }
        }

        float iscale = -127f / max;
        var scale = Vector256.Create(iscale);
        var magic = Vector256.Create(12582912f);
        var mantissa = Vector256.Create(0x007fffff);
        var offset = Vector256.Create(0x00400000);
        var top = Vector256.Create(127);
        var qs = MemoryMarshal.Cast<sbyte, Vector256<sbyte>>(quants);
        for (int c = 0; c < xs.Length; c += 4)
        {
            // nearest_int on eight values: the rounded integer sits in the low mantissa bits after adding 1.5·2^23.
            var q0 = Vector256.Min(((scale * xs[c] + magic).AsInt32() & mantissa) - offset, top);
            var q1 = Vector256.Min(((scale * xs[c + 1] + magic).AsInt32() & mantissa) - offset, top);
            var q2 = Vector256.Min(((scale * xs[c + 2] + magic).AsInt32() & mantissa) - offset, top);
            var q3 = Vector256.Min(((scale * xs[c + 3] + magic).AsInt32() & mantissa) - offset, top);
            // Narrow truncates, keeping the low byte as ggml's int8_t store does.
            qs[c / 4] = Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256.Narrow(q2, q3));
            int g = c / 2;
            groupSums[g] = (short)Vector256.Sum(SignedLowByte(q0) + SignedLowByte(q1));
            groupSums[g + 1] = (short)Vector256.Sum(SignedLowByte(q2) + SignedLowByte(q3));
        }
        return 1f / iscale;
    }

    /// <summary>Each lane's low byte as a signed value, the int8 the block stores.</summary>
    private static Vector256<int> SignedLowByte(Vector256<int> v) =>
        Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(v, 24), 24);
}
