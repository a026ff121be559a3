using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q2_K weights · Q8_K activations (SPEC 2.5, 2.9):
/// <c>Σ_b [ d_w·d_a · Σ_{g&lt;16} (sc_g &amp; 15) · Σ_{16 elems} q·a − dmin_w·d_a · Σ_g bsums[g]·(sc_g &gt;&gt; 4) ]</c>, q in 0..3.
/// Block (84 bytes): scales[16], qs[64], fp16 d, fp16 dmin. Element 128n+32j+l takes bits 2j of qs[32n + l%32];
/// group g = 8n+2j+(l ≥ 16) matches the activation's bsums group.
/// </summary>
internal static unsafe class Q2_KDot
{
    public const int WeightBytes = 84;

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
            byte* sc = w;
            sbyte* qa = (sbyte*)(a + ActQs);
            int sumi = 0;
            for (int n = 0; n < 2; n++)
            {
                byte* q = w + 16 + 32 * n;
                for (int j = 0; j < 4; j++)
                {
                    int g = 8 * n + 2 * j;
                    int lo = 0, hi = 0;
                    for (int l = 0; l < 16; l++)
                    {
                        lo += ((q[l] >> (2 * j)) & 3) * qa[128 * n + 32 * j + l];
                        hi += ((q[l + 16] >> (2 * j)) & 3) * qa[128 * n + 32 * j + 16 + l];
                    }
                    sumi += (sc[g] & 0xF) * lo + (sc[g + 1] & 0xF) * hi;
                }
            }
            sum += Combine(w, a, sumi);
        }
        return sum;
    }

    private static float Combine(byte* w, byte* a, int sumi)
    {
        short* bsums = (short*)(a + ActBsums);
        int summ = 0;
        for (int g = 0; g < 16; g++) summ += bsums[g] * (w[g] >> 4);
        float da = *(float*)a;
        return Fp16.Load(w + 80) * da * sumi - Fp16.Load(w + 82) * da * summ;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        var three = Vector128.Create((byte)3);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            sbyte* qa = (sbyte*)(a + ActQs);
            var acc = Vector128<int>.Zero;
            for (int n = 0; n < 2; n++)
            {
                var q0 = Vector128.Load(w + 16 + 32 * n);
                var q1 = Vector128.Load(w + 32 + 32 * n);
                for (int j = 0; j < 4; j++)
                {
                    int g = 8 * n + 2 * j;
                    acc += SimdOps.Dot128((Srl(q0, 2 * j) & three).AsSByte(), Vector128.Load(qa + 128 * n + 32 * j)) * (w[g] & 0xF)
                         + SimdOps.Dot128((Srl(q1, 2 * j) & three).AsSByte(), Vector128.Load(qa + 128 * n + 32 * j + 16)) * (w[g + 1] & 0xF);
                }
            }
            sum += Combine(w, a, Vector128.Sum(acc));
        }
        return sum;
    }

    /// <summary>AVX2: the 4-bit scales applied by pmaddwd; the min term is one pmaddwd of bsums with the high nibbles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path(byte* w, byte* a, int blocks)
    {
        var three = Vector256.Create((byte)3);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            sbyte* qa = (sbyte*)(a + ActQs);
            var acc = Vector256<int>.Zero;
            for (int n = 0; n < 2; n++)
            {
                var q = Vector256.Load(w + 16 + 32 * n);
                for (int j = 0; j < 4; j++)
                {
                    int g = 8 * n + 2 * j;
                    acc += DotScaled(Srl(q, 2 * j) & three, Vector256.Load(qa + 128 * n + 32 * j), w[g] & 0xF, w[g + 1] & 0xF);
                }
            }
            var mins = Avx2.ConvertToVector256Int16(KQuantScales.Srl(Vector128.Load(w), 4) & Vector128.Create((byte)0x0F)).AsInt16();
            float da = *(float*)a;
            sum += Fp16.Load(w + 80) * da * SimdOps.HSum(acc) - Fp16.Load(w + 82) * da * WeightedBsums(a, mins);
        }
        return sum;
    }
}
