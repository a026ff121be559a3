using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// F32, F16 and BF16 weight rows · float32 activations: <c>Σ_i float(w[i])·x[i]</c>. The activations stay float32
/// (ggml instead rounds them to the weight's 16-bit type first); "blocks" are single elements here.
/// fp16 → float in vectors: <c>bits(|h|) &lt;&lt; 13</c> read as float, times 2^112, is exact for normals and
/// subnormals; exponent 31 (inf/NaN) is patched to float's all-ones exponent; the sign is moved to bit 31.
/// bf16 → float is <c>h &lt;&lt; 16</c>.
/// </summary>
internal static unsafe class FloatDot
{
    public static delegate*<byte*, byte*, int, float> For(Quantization.GgmlType type, SimdLevel level) => (type, level) switch
    {
        (Quantization.GgmlType.F32, SimdLevel.Scalar) => &F32Scalar,
        (Quantization.GgmlType.F32, SimdLevel.Vector128) => &F32Vector128,
        (Quantization.GgmlType.F32, SimdLevel.Avx2) => &F32Avx2,
        (Quantization.GgmlType.F32, _) => &F32Avx512,
        (Quantization.GgmlType.F16, SimdLevel.Scalar) => &F16Scalar,
        (Quantization.GgmlType.F16, SimdLevel.Vector128) => &F16Vector128,
        (Quantization.GgmlType.F16, _) => &F16Avx2,
        (_, SimdLevel.Scalar) => &BF16Scalar,
        (_, SimdLevel.Vector128) => &BF16Vector128,
        _ => &BF16Avx2,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F32Scalar(byte* w, byte* a, int n)
    {
        float* x = (float*)w, y = (float*)a;
        float sum = 0;
        for (int i = 0; i < n; i++) sum += x[i] * y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F32Vector128(byte* w, byte* a, int n)
    {
        float* x = (float*)w, y = (float*)a;
        var acc = Vector128<float>.Zero;
        int i = 0;
        for (; i + 4 <= n; i += 4) acc += Vector128.Load(x + i) * Vector128.Load(y + i);
        float sum = Vector128.Sum(acc);
        for (; i < n; i++) sum += x[i] * y[i];
        return sum;
    }

    /// <summary>One 8-lane FMA accumulator and ggml's hsum_float_8 pairing: ggml's sgemm order on AVX2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F32Avx2(byte* w, byte* a, int n)
    {
        float* x = (float*)w, y = (float*)a;
        Vector256<float> acc = default;
        int i = 0;
        for (; i + 8 <= n; i += 8) acc = Fma.MultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), acc);
        float sum = SimdOps.HSum(acc);
        for (; i < n; i++) sum += x[i] * y[i];
        return sum;
    }

    /// <summary>
    /// One 16-lane FMA accumulator over the row and <see cref="SimdOps.HSum(Vector512{float})"/>: the order of
    /// llama.cpp's F32 matrix products on AVX-512 (ggml's tiled sgemm), so routers and other F32 weights give the
    /// same float bits as there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F32Avx512(byte* w, byte* a, int n)
    {
        float* x = (float*)w, y = (float*)a;
        Vector512<float> acc = default;
        int i = 0;
        for (; i + 16 <= n; i += 16) acc = Avx512F.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(y + i), acc);
        float sum = SimdOps.HSum(acc);
        for (; i < n; i++) sum += x[i] * y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16Scalar(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w;
        float* y = (float*)a;
        float sum = 0;
        for (int i = 0; i < n; i++) sum += Fp16.ToFloat(x[i]) * y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> HalfToSingle(Vector128<uint> h)
    {
        var magnitude = ((h & Vector128.Create(0x7FFFu)) << 13).AsSingle() * Vector128.Create(5.192296858534828e33f); // 2^112
        var infNan = Vector128.Equals(h & Vector128.Create(0x7C00u), Vector128.Create(0x7C00u)) & Vector128.Create(0x7F800000u);
        return (magnitude.AsUInt32() | infNan | ((h & Vector128.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfToSingle(Vector256<uint> h)
    {
        var magnitude = ((h & Vector256.Create(0x7FFFu)) << 13).AsSingle() * Vector256.Create(5.192296858534828e33f);
        var infNan = Vector256.Equals(h & Vector256.Create(0x7C00u), Vector256.Create(0x7C00u)) & Vector256.Create(0x7F800000u);
        return (magnitude.AsUInt32() | infNan | ((h & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16Vector128(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w;
        float* y = (float*)a;
        var acc = Vector128<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var h = Vector128.Load(x + i);
            acc += HalfToSingle(Vector128.WidenLower(h)) * Vector128.Load(y + i) + HalfToSingle(Vector128.WidenUpper(h)) * Vector128.Load(y + i + 4);
        }
        float sum = Vector128.Sum(acc);
        for (; i < n; i++) sum += Fp16.ToFloat(x[i]) * y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16Avx2(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w;
        float* y = (float*)a;
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var h = Avx2.ConvertToVector256Int32(x + i).AsUInt32();
            acc = Fma.MultiplyAdd(HalfToSingle(h), Vector256.Load(y + i), acc);
        }
        float sum = SimdOps.HSum(acc);
        for (; i < n; i++) sum += Fp16.ToFloat(x[i]) * y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BF16Scalar(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w;
        float* y = (float*)a;
        float sum = 0;
        for (int i = 0; i < n; i++) sum += BitConverter.UInt32BitsToSingle((uint)x[i] << 16) * y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BF16Vector128(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w;
        float* y = (float*)a;
        var acc = Vector128<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var h = Vector128.Load(x + i);
            acc += (Vector128.WidenLower(h) << 16).AsSingle() * Vector128.Load(y + i) + (Vector128.WidenUpper(h) << 16).AsSingle() * Vector128.Load(y + i + 4);
        }
        float sum = Vector128.Sum(acc);
        for (; i < n; i++) sum += BitConverter.UInt32BitsToSingle((uint)x[i] << 16) * y[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BF16Avx2(byte* w, byte* a, int n)
    {
        ushort* x = (ushort*)w;
        float* y = (float*)a;
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var h = Avx2.ConvertToVector256Int32(x + i).AsUInt32();
            acc = Fma.MultiplyAdd((h << 16).AsSingle(), Vector256.Load(y + i), acc);
        }
        float sum = SimdOps.HSum(acc);
        for (; i < n; i++) sum += BitConverter.UInt32BitsToSingle((uint)x[i] << 16) * y[i];
        return sum;
    }
}
