using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using HybridEngine.Quantization;
using HybridEngine.Quantization.Formats;

namespace HybridEngine.Kernels;

/// <summary>
/// Quantizes activation rows to the type a weight type's CPU dot product pairs with (SPEC 2.9,
/// <see cref="QuantTypeInfo.DotType"/>), bit for bit as llama.cpp's x86 CPU backend does (on every SIMD level):
/// <list type="bullet">
/// <item>Q8_0 (per 32): <c>d = max|x|/127</c> stored fp16, <c>q = round_half_even(x·(127/max|x|))</c> — ggml-cpu's x86
/// SIMD rule, which differs from the reference quantizer (<c>roundf(x·(1/d))</c>) by one quant in rare blocks.</item>
/// <item>Q8_1 (per 32): ggml's reference rule <c>q = roundf(x·(1/d))</c>, plus <c>s = fp16(d·Σq)</c> with d unrounded
/// (the format quantizer; only Q4_1/Q5_1 use it).</item>
/// <item>Q8_K (per 256): <c>max</c> = the first element of largest |x| with its sign, <c>iscale = −127/max</c>,
/// <c>q = min(127, nearest_even(iscale·x))</c>, <c>d = 1/iscale</c> as float32, <c>bsums[g] = Σ</c> of 16 q.</item>
/// <item>F32 weights dot against the float activations unchanged (the row is copied). F16 and BF16 weights dot
/// against activations rounded to F16 / BF16 (round to nearest even; stored back as float32), because llama.cpp
/// converts the activations to the weight's own type before those products.</item>
/// </list>
/// </summary>
public static unsafe class ActivationQuantizer
{
    public const int Q8_0Bytes = 34;
    public const int Q8_1Bytes = 36;
    public const int Q8_KBytes = 292;

    /// <summary>Bytes of one quantized activation row of <paramref name="length"/> values for <paramref name="dotType"/>.</summary>
    public static int RowBytes(GgmlType dotType, int length) => dotType switch
    {
        GgmlType.Q8_0 => CheckedBlocks(length, 32) * Q8_0Bytes,
        GgmlType.Q8_1 => CheckedBlocks(length, 32) * Q8_1Bytes,
        GgmlType.Q8_K => CheckedBlocks(length, 256) * Q8_KBytes,
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => length * sizeof(float),
        _ => throw new NotSupportedException($"No activation quantizer for dot type {dotType}; supported: q8_0, q8_1, q8_K, f32, f16, bf16."),
    };

    private static int CheckedBlocks(int length, int blockSize) =>
        length % blockSize == 0 ? length / blockSize
            : throw new ArgumentException($"Row length {length} is not a multiple of the block size {blockSize}.");

    /// <summary>Quantizes <paramref name="x"/> into <paramref name="destination"/> (<see cref="RowBytes"/> bytes).</summary>
    public static void QuantizeRow(GgmlType dotType, ReadOnlySpan<float> x, Span<byte> destination, SimdLevel level)
    {
        int bytes = RowBytes(dotType, x.Length);
        if (destination.Length < bytes) throw new ArgumentException($"Destination holds {destination.Length} bytes, {bytes} needed.");
        fixed (float* src = x)
        fixed (byte* dst = destination)
        {
            QuantizeRow(dotType, src, x.Length, dst, level);
        }
    }

    /// <summary>Pointer form of <see cref="QuantizeRow(GgmlType, ReadOnlySpan{float}, Span{byte}, SimdLevel)"/>.</summary>
    public static void QuantizeRow(GgmlType dotType, float* x, int length, byte* dst, SimdLevel level)
    {
        switch (dotType)
        {
            case GgmlType.Q8_0: Q8_0(x, length / 32, dst, level); break;
            case GgmlType.Q8_1: Q8_1Block.Quantize(new ReadOnlySpan<float>(x, length), new Span<byte>(dst, length / 32 * Q8_1Bytes)); break;
            case GgmlType.Q8_K: Q8_K(x, length / 256, dst, level); break;
            case GgmlType.F16:
                for (int j = 0; j < length; j++) ((float*)dst)[j] = (float)(Half)x[j];
                break;
            case GgmlType.BF16:
                for (int j = 0; j < length; j++) ((float*)dst)[j] = RoundToBf16(x[j]);
                break;
            default: Buffer.MemoryCopy(x, dst, (long)length * 4, (long)length * 4); break;
        }
    }

    /// <summary>ggml's fp32→bf16: round to nearest even on the top 16 bits; NaN stays a quiet NaN.</summary>
    private static float RoundToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) return BitConverter.UInt32BitsToSingle((bits | 0x00400000) & 0xffff0000);
        bits = (bits + (0x7fff + ((bits >> 16) & 1))) & 0xffff0000;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    private static void Q8_0(float* x, int blocks, byte* dst, SimdLevel level)
    {
        for (int b = 0; b < blocks; b++, x += 32, dst += Q8_0Bytes)
        {
            float amax = level >= SimdLevel.Avx2 && Vector256.IsHardwareAccelerated ? MaxAbs256(x, 32) : MaxAbsScalar(x, 32);
            float id = amax != 0 ? 127f / amax : 0f;
            if (!float.IsFinite(id))
            {
                // A block of float subnormals: 127/amax overflows; the format quantizer reproduces C's conversions.
                Q8_0Block.QuantizeAsCpuBackend(new ReadOnlySpan<float>(x, 32), new Span<byte>(dst, Q8_0Bytes));
                continue;
            }
            *(Half*)dst = (Half)(amax / 127f);
            sbyte* q = (sbyte*)(dst + 2);
            if (level >= SimdLevel.Avx2 && Vector256.IsHardwareAccelerated) RoundEven256(x, id, q, 32);
            else for (int j = 0; j < 32; j++) q[j] = (sbyte)Math.Min(127, NearestInt(x[j] * id));
        }
    }

    private static void Q8_K(float* x, int blocks, byte* dst, SimdLevel level)
    {
        for (int b = 0; b < blocks; b++, x += 256, dst += Q8_KBytes)
        {
            float amax = level >= SimdLevel.Avx2 && Vector256.IsHardwareAccelerated ? MaxAbs256(x, 256) : MaxAbsScalar(x, 256);
            sbyte* q = (sbyte*)(dst + 4);
            short* bsums = (short*)(dst + 4 + 256);
            if (amax == 0)
            {
                *(float*)dst = 0;
                new Span<byte>(q, 256 + 32).Clear();
                continue;
            }
            // The signed value of the first element whose |x| is the maximum, as ggml's strict '>' scan picks it.
            float max = 0;
            for (int j = 0; j < 256; j++)
            {
                if (MathF.Abs(x[j]) == amax) { max = x[j]; break; }
            }
            float iscale = -127f / max;
            if (!float.IsFinite(iscale))
            {
                // max is a float subnormal: leave the overflow cases to the format quantizer (C's conversions).
                Q8_KBlock.Quantize(new ReadOnlySpan<float>(x, 256), new Span<byte>(dst, Q8_KBytes));
                continue;
            }
            if (level >= SimdLevel.Avx2 && Vector256.IsHardwareAccelerated) RoundEven256(x, iscale, q, 256);
            else
            {
                for (int j = 0; j < 256; j++) q[j] = (sbyte)Math.Min(127, NearestInt(iscale * x[j]));
            }
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int j = 0; j < 16; j++) sum += q[16 * g + j];
                bsums[g] = (short)sum;
            }
            *(float*)dst = 1 / iscale;
        }
    }

    /// <summary>ggml's nearest_int: round half to even (valid for |v| below 2^22, always true here).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NearestInt(float v) => (int)MathF.Round(v, MidpointRounding.ToEven);

    private static float MaxAbsScalar(float* x, int n)
    {
        float amax = 0;
        for (int j = 0; j < n; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        return amax;
    }

    private static float MaxAbs256(float* x, int n)
    {
        var m = Vector256<float>.Zero;
        for (int j = 0; j < n; j += 8) m = Vector256.Max(m, Vector256.Abs(Vector256.Load(x + j)));
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
        return h.ToScalar();
    }

    /// <summary>min(127, nearest_even(x·scale)) for 8 lanes at a time.</summary>
    private static void RoundEven256(float* x, float scale, sbyte* q, int n)
    {
        var s = Vector256.Create(scale);
        for (int j = 0; j < n; j += 8)
        {
            var r = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + j) * s));
            StoreNarrow(Vector256.Min(r, Vector256.Create(127)), q + j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreNarrow(Vector256<int> v, sbyte* q)
    {
        var s16 = Vector256.Narrow(v, v);            // lanes 0..7 hold the values, in order, as int16
        var s8 = Vector256.Narrow(s16, s16);         // lanes 0..7 as int8
        *(long*)q = s8.AsInt64().ToScalar();
    }
}
