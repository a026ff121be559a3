using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q4_K weights · Q8_K activations (SPEC 2.9):
/// <c>Σ_b [ d_w·d_a · Σ_{s&lt;8} sc_s · Σ_{32 elems} q·a  −  dmin_w·d_a · Σ_{g&lt;16} bsums[g]·m_{g/2} ]</c>, q in 0..15.
/// Block (144 bytes): fp16 d, fp16 dmin, 12 packed scale/min bytes, 128 nibble bytes; chunk c of 64 elements uses
/// bytes [32c, 32c+32): low nibbles are sub-block 2c, high nibbles sub-block 2c+1.
/// Each block's integer sums are exact; only the per-block float combination is rounded, identically on every path.
/// </summary>
internal static unsafe class Q4_KDot
{
    public const int WeightBytes = 144;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => level switch
    {
        SimdLevel.Scalar => &Scalar,
        SimdLevel.Vector128 => &Vector128Path,
        SimdLevel.Avx2 => &Avx2Path,
        _ => Q4_KAvx512Vbmi.IsSupported ? &Q4_KAvx512Vbmi.Dot : &Q4_KAvx512.Dot,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar(byte* w, byte* a, int blocks)
    {
        int* sc = stackalloc int[8];
        int* m16 = stackalloc int[16];
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            Unpack(w, sc, m16);
            byte* qs = w + 16;
            sbyte* qa = (sbyte*)(a + ActQs);
            int sumi = 0;
            for (int c = 0; c < 4; c++)
            {
                int lo = 0, hi = 0;
                for (int l = 0; l < 32; l++)
                {
                    lo += (qs[32 * c + l] & 0xF) * qa[64 * c + l];
                    hi += (qs[32 * c + l] >> 4) * qa[64 * c + 32 + l];
                }
                sumi += sc[2 * c] * lo + sc[2 * c + 1] * hi;
            }
            sum += Combine(w, a, sumi, WeightedBsums(a, m16));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        int* sc = stackalloc int[8];
        int* m16 = stackalloc int[16];
        var mask = Vector128.Create((byte)0x0F);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            Unpack(w, sc, m16);
            byte* qs = w + 16;
            sbyte* qa = (sbyte*)(a + ActQs);
            var acc = Vector128<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                var q0 = Vector128.Load(qs + 32 * c);
                var q1 = Vector128.Load(qs + 32 * c + 16);
                var lo = SimdOps.Dot128((q0 & mask).AsSByte(), Vector128.Load(qa + 64 * c)) + SimdOps.Dot128((q1 & mask).AsSByte(), Vector128.Load(qa + 64 * c + 16));
                var hi = SimdOps.Dot128((Srl(q0, 4) & mask).AsSByte(), Vector128.Load(qa + 64 * c + 32)) + SimdOps.Dot128((Srl(q1, 4) & mask).AsSByte(), Vector128.Load(qa + 64 * c + 48));
                acc += lo * sc[2 * c] + hi * sc[2 * c + 1];
            }
            sum += Combine(w, a, Vector128.Sum(acc), WeightedBsums(a, m16));
        }
        return sum;
    }

    /// <summary>AVX2: scales applied by pmaddwd (<see cref="KQuantScales.DotScaled(Vector256{byte}, Vector256{sbyte}, int)"/>); VNNI would not save an instruction here.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path(byte* w, byte* a, int blocks)
    {
        var mask = Vector256.Create((byte)0x0F);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            WeightPrefetch.Block(w, WeightBytes);
            ScaleMinK4(w + 4, out ulong scales, out ulong mins);
            byte* qs = w + 16;
            sbyte* qa = (sbyte*)(a + ActQs);
            var acc = Vector256<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                var q = Vector256.Load(qs + 32 * c);
                acc += DotScaled(q & mask, Vector256.Load(qa + 64 * c), (int)(scales >> (16 * c)) & 0xFF)
                     + DotScaled(Srl(q, 4) & mask, Vector256.Load(qa + 64 * c + 32), (int)(scales >> (16 * c + 8)) & 0xFF);
            }
            sum += Combine(w, a, SimdOps.HSum(acc), MinsDot(a, mins));
        }
        return sum;
    }

    /// <summary>Σ_g bsums[g]·m_{g/2}: each min byte duplicated to two int16 lanes, then one pmaddwd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int MinsDot(byte* a, ulong mins)
    {
        var spread = Ssse3.Shuffle(Vector128.CreateScalar(mins).AsByte(), Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
        return WeightedBsums(a, Avx2.ConvertToVector256Int16(spread).AsInt16());
    }

    /// <summary>The 8 sub-block scales, and the 8 mins spread to the 16 bsum groups (two groups per sub-block).</summary>
    internal static void Unpack(byte* w, int* sc, int* m16)
    {
        for (int j = 0; j < 8; j++)
        {
            ScaleMinK4(w + 4, j, out sc[j], out int m);
            m16[2 * j] = m;
            m16[2 * j + 1] = m;
        }
    }

    /// <summary><c>d_w·d_a·Σscaled − dmin_w·d_a·Σmins</c> for one block.</summary>
    internal static float Combine(byte* w, byte* a, int sumi, int summ)
    {
        float da = *(float*)a;
        return Fp16.Load(w) * da * sumi - Fp16.Load(w + 2) * da * summ;
    }
}
