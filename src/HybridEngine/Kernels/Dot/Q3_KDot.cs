using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q3_K weights · Q8_K activations (SPEC 2.6, 2.9): <c>Σ_b d_w·d_a · Σ_{g&lt;16} s_g · Σ_{16 elems} q·a</c>, q in −4..3:
/// q = 2 bits of qs − (hmask bit set ? 0 : 4). Block (110 bytes): hmask[32], qs[64], 12 scale bytes, fp16 d.
/// The SIMD paths dot u = bits | (hmask bit)·4 in 0..7 and subtract <c>4·Σ_g s_g·bsums[g]</c>.
/// </summary>
internal static unsafe class Q3_KDot
{
    public const int WeightBytes = 110;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => level switch
    {
        SimdLevel.Scalar => &Scalar,
        SimdLevel.Vector128 => &Vector128Path,
        _ => &Avx2Path,
    };

    private static void Scales(byte* w, int* s)
    {
        for (int g = 0; g < 16; g++) s[g] = ScaleQ3K(w + 96, g);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar(byte* w, byte* a, int blocks)
    {
        int* s = stackalloc int[16];
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            Scales(w, s);
            byte* hmask = w;
            sbyte* qa = (sbyte*)(a + ActQs);
            int sumi = 0;
            for (int n = 0; n < 2; n++)
            {
                byte* q = w + 32 + 32 * n;
                for (int j = 0; j < 4; j++)
                {
                    int m = 1 << (4 * n + j);
                    for (int l = 0; l < 32; l++)
                    {
                        int v = ((q[l] >> (2 * j)) & 3) - ((hmask[l] & m) != 0 ? 0 : 4);
                        sumi += s[8 * n + 2 * j + l / 16] * v * qa[128 * n + 32 * j + l];
                    }
                }
            }
            sum += Fp16.Load(w + 108) * *(float*)a * sumi;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        int* s = stackalloc int[16];
        var three = Vector128.Create((byte)3);
        var four = Vector128.Create((byte)4);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            Scales(w, s);
            sbyte* qa = (sbyte*)(a + ActQs);
            var h0 = Vector128.Load(w);
            var h1 = Vector128.Load(w + 16);
            var acc = Vector128<int>.Zero;
            for (int n = 0; n < 2; n++)
            {
                var q0 = Vector128.Load(w + 32 + 32 * n);
                var q1 = Vector128.Load(w + 48 + 32 * n);
                for (int j = 0; j < 4; j++)
                {
                    var m = Vector128.Create((byte)(1 << (4 * n + j)));
                    var u0 = (Srl(q0, 2 * j) & three) | (Vector128.Equals(h0 & m, m) & four);
                    var u1 = (Srl(q1, 2 * j) & three) | (Vector128.Equals(h1 & m, m) & four);
                    int g = 8 * n + 2 * j;
                    acc += SimdOps.Dot128(u0.AsSByte(), Vector128.Load(qa + 128 * n + 32 * j)) * s[g]
                         + SimdOps.Dot128(u1.AsSByte(), Vector128.Load(qa + 128 * n + 32 * j + 16)) * s[g + 1];
                }
            }
            sum += Fp16.Load(w + 108) * *(float*)a * (Vector128.Sum(acc) - 4 * WeightedBsums(a, s));
        }
        return sum;
    }

    /// <summary>AVX2: scales unpacked with 32-bit masks, applied by pmaddwd; the −4 offset from the bsums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path(byte* w, byte* a, int blocks)
    {
        short* s = stackalloc short[16];
        var three = Vector256.Create((byte)3);
        var four = Vector256.Create((byte)4);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            var scales = ScalesQ3K(w + 96);
            scales.Store(s);
            sbyte* qa = (sbyte*)(a + ActQs);
            var h = Vector256.Load(w);
            var acc = Vector256<int>.Zero;
            for (int n = 0; n < 2; n++)
            {
                var q = Vector256.Load(w + 32 + 32 * n);
                for (int j = 0; j < 4; j++)
                {
                    var m = Vector256.Create((byte)(1 << (4 * n + j)));
                    var u = (Srl(q, 2 * j) & three) | (Vector256.Equals(h & m, m) & four);
                    int g = 8 * n + 2 * j;
                    acc += DotScaled(u, Vector256.Load(qa + 128 * n + 32 * j), s[g], s[g + 1]);
                }
            }
            sum += Fp16.Load(w + 108) * *(float*)a * (SimdOps.HSum(acc) - 4 * WeightedBsums(a, scales));
        }
        return sum;
    }
}
