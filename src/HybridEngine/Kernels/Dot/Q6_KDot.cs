using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q6_K weights · Q8_K activations: <c>Σ_b d_w·d_a · Σ_{g&lt;16} sc_g · Σ_{16 elems} (u − 32)·a</c> with u in 0..63 and
/// int8 scales (SPEC 2.4). Block (210 bytes): ql[128], qh[64], scales[16], fp16 d. The SIMD paths dot the unsigned u
/// and subtract <c>32·Σ_g sc_g·bsums[g]</c>, which is the same integer.
/// </summary>
internal static unsafe class Q6_KDot
{
    public const int WeightBytes = 210;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => level switch
    {
        SimdLevel.Scalar => &Scalar,
        SimdLevel.Vector128 => &Vector128Path,
        _ => &Avx2Path,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar(byte* w, byte* a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            sbyte* scales = (sbyte*)(w + 192);
            int sumi = 0;
            for (int n = 0; n < 2; n++)
            {
                byte* ql = w + 64 * n;
                byte* qh = w + 128 + 32 * n;
                sbyte* sc = scales + 8 * n;
                sbyte* qa = (sbyte*)(a + ActQs) + 128 * n;
                for (int l = 0; l < 32; l++)
                {
                    int g = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    sumi += sc[g] * q1 * qa[l] + sc[g + 2] * q2 * qa[l + 32] + sc[g + 4] * q3 * qa[l + 64] + sc[g + 6] * q4 * qa[l + 96];
                }
            }
            sum += Fp16.Load(w + 208) * *(float*)a * sumi;
        }
        return sum;
    }

    private static int Offset(byte* w, byte* a)
    {
        sbyte* scales = (sbyte*)(w + 192);
        short* bsums = (short*)(a + ActBsums);
        int sum = 0;
        for (int g = 0; g < 16; g++) sum += scales[g] * bsums[g];
        return 32 * sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        var mask = Vector128.Create((byte)0x0F);
        var high = Vector128.Create((byte)0x30);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            sbyte* scales = (sbyte*)(w + 192);
            var acc = Vector128<int>.Zero;
            for (int n = 0; n < 2; n++)
            {
                sbyte* qa = (sbyte*)(a + ActQs) + 128 * n;
                sbyte* sc = scales + 8 * n;
                for (int h = 0; h < 2; h++)   // the two 16-element halves of each 32-element run share nothing but layout
                {
                    var qlA = Vector128.Load(w + 64 * n + 16 * h);
                    var qlB = Vector128.Load(w + 64 * n + 32 + 16 * h);
                    var qh = Vector128.Load(w + 128 + 32 * n + 16 * h);
                    var u1 = (qlA & mask) | (Sll(qh, 4) & high);
                    var u2 = (qlB & mask) | (Sll(qh, 2) & high);
                    var u3 = (Srl(qlA, 4) & mask) | (qh & high);
                    var u4 = (Srl(qlB, 4) & mask) | (Srl(qh, 2) & high);
                    acc += SimdOps.Dot128(u1.AsSByte(), Vector128.Load(qa + 16 * h)) * sc[h]
                         + SimdOps.Dot128(u2.AsSByte(), Vector128.Load(qa + 32 + 16 * h)) * sc[h + 2]
                         + SimdOps.Dot128(u3.AsSByte(), Vector128.Load(qa + 64 + 16 * h)) * sc[h + 4]
                         + SimdOps.Dot128(u4.AsSByte(), Vector128.Load(qa + 96 + 16 * h)) * sc[h + 6];
                }
            }
            sum += Fp16.Load(w + 208) * *(float*)a * (Vector128.Sum(acc) - Offset(w, a));
        }
        return sum;
    }

    /// <summary>AVX2: unsigned u·a with the int8 scales applied by pmaddwd; the −32 offset from the bsums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path(byte* w, byte* a, int blocks)
    {
        var mask = Vector256.Create((byte)0x0F);
        var high = Vector256.Create((byte)0x30);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            WeightPrefetch.Block(w, WeightBytes);
            sbyte* scales = (sbyte*)(w + 192);
            var acc = Vector256<int>.Zero;
            for (int n = 0; n < 2; n++)
            {
                sbyte* qa = (sbyte*)(a + ActQs) + 128 * n;
                sbyte* sc = scales + 8 * n;
                var qlA = Vector256.Load(w + 64 * n);
                var qlB = Vector256.Load(w + 64 * n + 32);
                var qh = Vector256.Load(w + 128 + 32 * n);
                acc += DotScaled((qlA & mask) | (Sll(qh, 4) & high), Vector256.Load(qa), sc[0], sc[1])
                     + DotScaled((qlB & mask) | (Sll(qh, 2) & high), Vector256.Load(qa + 32), sc[2], sc[3])
                     + DotScaled((Srl(qlA, 4) & mask) | (qh & high), Vector256.Load(qa + 64), sc[4], sc[5])
                     + DotScaled((Srl(qlB, 4) & mask) | (Srl(qh, 2) & high), Vector256.Load(qa + 96), sc[6], sc[7]);
            }
            int offset = 32 * WeightedBsums(a, Avx2.ConvertToVector256Int16(Vector128.Load(scales)));
            sum += Fp16.Load(w + 208) * *(float*)a * (SimdOps.HSum(acc) - offset);
        }
        return sum;
    }
}
