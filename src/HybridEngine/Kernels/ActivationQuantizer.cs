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

    // The block quantizers themselves live with their formats (Q8_0Block, Q8_KBlock), bit-exact with ggml;
    // here only the level picks their scalar twin or their vector form.
    private static bool Vector(SimdLevel level) => level >= SimdLevel.Avx2 && Vector256.IsHardwareAccelerated;

    private static void Q8_0(float* x, int blocks, byte* dst, SimdLevel level)
    {
        bool vector = Vector(level);
        for (int b = 0; b < blocks; b++, x += 32, dst += Q8_0Bytes)
        {
            var src = new ReadOnlySpan<float>(x, 32);
            var q = new Span<sbyte>(dst + 2, 32);
            float d = vector ? Q8_0Block.QuantizeBlockVector(src, q, cpuBackendRule: true) : Q8_0Block.QuantizeBlockScalar(src, q, cpuBackendRule: true);
            *(Half*)dst = (Half)d;
        }
    }

    private static void Q8_K(float* x, int blocks, byte* dst, SimdLevel level)
    {
        bool vector = Vector(level);
        for (int b = 0; b < blocks; b++, x += 256, dst += Q8_KBytes)
        {
            var src = new ReadOnlySpan<float>(x, 256);
            var q = new Span<sbyte>(dst + 4, 256);
            var sums = new Span<short>(dst + 4 + 256, 16);
            *(float*)dst = vector ? Q8_KBlock.QuantizeBlockVector(src, q, sums) : Q8_KBlock.QuantizeBlockScalar(src, q, sums);
        }
    }
}
