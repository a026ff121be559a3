using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q4_0 weights · Q8_0 activations: <c>Σ_b d_w·d_a · Σ_{j&lt;16} [(lo_j − 8)·a[j] + (hi_j − 8)·a[j+16]]</c>
/// (18-byte weight blocks: fp16 d, 16 bytes of nibble pairs; low nibbles are elements 0..15).
/// </summary>
internal static unsafe class Q4_0Dot
{
    public const int WeightBytes = 18, ActBytes = 34;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => level switch
    {
        SimdLevel.Scalar => &Scalar,
        SimdLevel.Vector128 => &Vector128Path,
        SimdLevel.Avx2 => &Avx2Path<NoVnni>,
        _ => AvxVnni.IsSupported ? &Avx2Path<WithVnni> : &Avx2Path<NoVnni>,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar(byte* w, byte* a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            byte* qs = w + 2;
            sbyte* qa = (sbyte*)(a + 2);
            int sumi = 0;
            for (int j = 0; j < 16; j++)
            {
                sumi += ((qs[j] & 0xF) - 8) * qa[j] + ((qs[j] >> 4) - 8) * qa[j + 16];
            }
            sum += sumi * (Fp16.Load(w) * Fp16.Load(a));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        var mask = Vector128.Create((byte)0x0F);
        var eight = Vector128.Create((sbyte)8);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            var q = Vector128.Load(w + 2);
            var lo = (q & mask).AsSByte() - eight;
            var hi = (Vector128.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & mask).AsSByte() - eight;
            var p = SimdOps.Dot128(lo, Vector128.Load((sbyte*)(a + 2))) + SimdOps.Dot128(hi, Vector128.Load((sbyte*)(a + 18)));
            sum += Vector128.Sum(p) * (Fp16.Load(w) * Fp16.Load(a));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path<TVnni>(byte* w, byte* a, int blocks) where TVnni : struct
    {
        var acc = Vector256<float>.Zero;
        var eight = Vector256.Create((sbyte)8);
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            var q = SimdOps.Nibbles(Vector128.Load(w + 2)).AsSByte() - eight;
            var p = SimdOps.DotSS<TVnni>(q, Vector256.Load((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Fp16.Load(w) * Fp16.Load(a)), acc);
        }
        return SimdOps.HSum(acc);
    }
}
