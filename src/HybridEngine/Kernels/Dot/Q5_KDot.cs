using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q5_K weights · Q8_K activations: the Q4_K formula with q in 0..31, bit 4 of element l of chunk c taken from
/// <c>qh[l]</c> bit 2c (low-nibble sub-block) or bit 2c+1 (high-nibble sub-block) (SPEC 2.3).
/// Block (176 bytes): fp16 d, fp16 dmin, 12 scale bytes, qh[32], qs[128].
/// </summary>
internal static unsafe class Q5_KDot
{
    public const int WeightBytes = 176;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => level switch
    {
        SimdLevel.Scalar => &Scalar,
        SimdLevel.Vector128 => &Vector128Path,
        _ => &Avx2Path,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar(byte* w, byte* a, int blocks)
    {
        int* sc = stackalloc int[8];
        int* m16 = stackalloc int[16];
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            Q4_KDot.Unpack(w, sc, m16);
            byte* qh = w + 16;
            byte* qs = w + 48;
            sbyte* qa = (sbyte*)(a + ActQs);
            int sumi = 0;
            for (int c = 0; c < 4; c++)
            {
                int lo = 0, hi = 0;
                for (int l = 0; l < 32; l++)
                {
                    lo += ((qs[32 * c + l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4)) * qa[64 * c + l];
                    hi += ((qs[32 * c + l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) * qa[64 * c + 32 + l];
                }
                sumi += sc[2 * c] * lo + sc[2 * c + 1] * hi;
            }
            sum += Q4_KDot.Combine(w, a, sumi, WeightedBsums(a, m16));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        int* sc = stackalloc int[8];
        int* m16 = stackalloc int[16];
        var mask = Vector128.Create((byte)0x0F);
        var bit4 = Vector128.Create((byte)0x10);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            Q4_KDot.Unpack(w, sc, m16);
            byte* qs = w + 48;
            sbyte* qa = (sbyte*)(a + ActQs);
            var h0 = Vector128.Load(w + 16);
            var h1 = Vector128.Load(w + 32);
            var acc = Vector128<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                var q0 = Vector128.Load(qs + 32 * c);
                var q1 = Vector128.Load(qs + 32 * c + 16);
                var lo0 = (q0 & mask) | (Sll(Srl(h0, 2 * c), 4) & bit4);
                var lo1 = (q1 & mask) | (Sll(Srl(h1, 2 * c), 4) & bit4);
                var hi0 = (Srl(q0, 4) & mask) | (Sll(Srl(h0, 2 * c + 1), 4) & bit4);
                var hi1 = (Srl(q1, 4) & mask) | (Sll(Srl(h1, 2 * c + 1), 4) & bit4);
                var lo = SimdOps.Dot128(lo0.AsSByte(), Vector128.Load(qa + 64 * c)) + SimdOps.Dot128(lo1.AsSByte(), Vector128.Load(qa + 64 * c + 16));
                var hi = SimdOps.Dot128(hi0.AsSByte(), Vector128.Load(qa + 64 * c + 32)) + SimdOps.Dot128(hi1.AsSByte(), Vector128.Load(qa + 64 * c + 48));
                acc += lo * sc[2 * c] + hi * sc[2 * c + 1];
            }
            sum += Q4_KDot.Combine(w, a, Vector128.Sum(acc), WeightedBsums(a, m16));
        }
        return sum;
    }

    /// <summary>AVX2: scales applied by pmaddwd, as in <see cref="Q4_KDot.Avx2Path"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path(byte* w, byte* a, int blocks)
    {
        var mask = Vector256.Create((byte)0x0F);
        var bit4 = Vector256.Create((byte)0x10);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            ScaleMinK4(w + 4, out ulong scales, out ulong mins);
            byte* qs = w + 48;
            sbyte* qa = (sbyte*)(a + ActQs);
            var h = Vector256.Load(w + 16);
            var acc = Vector256<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                var q = Vector256.Load(qs + 32 * c);
                var lo = (q & mask) | (Sll(Srl(h, 2 * c), 4) & bit4);
                var hi = (Srl(q, 4) & mask) | (Sll(Srl(h, 2 * c + 1), 4) & bit4);
                acc += DotScaled(lo, Vector256.Load(qa + 64 * c), (int)(scales >> (16 * c)) & 0xFF)
                     + DotScaled(hi, Vector256.Load(qa + 64 * c + 32), (int)(scales >> (16 * c + 8)) & 0xFF);
            }
            sum += Q4_KDot.Combine(w, a, SimdOps.HSum(acc), Q4_KDot.MinsDot(a, mins));
        }
        return sum;
    }
}
