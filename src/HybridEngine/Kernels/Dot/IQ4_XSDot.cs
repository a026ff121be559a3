using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// IQ4_XS weights · Q8_K activations: <c>Σ_b d_w·d_a · Σ_{s&lt;8} (ls_s − 32) · Σ_{32 elems} kv[q]·a</c>, where
/// <c>ls_s = ((scales_l[s/2] &gt;&gt; 4(s%2)) &amp; 15) | ((scales_h &gt;&gt; 2s) &amp; 3) &lt;&lt; 4</c> and kv = kvalues_iq4nl.
/// Block (136 bytes): fp16 d, u16 scales_h, scales_l[4], qs[128]; sub-block s uses qs[16s..16s+16), low nibbles first.
/// </summary>
internal static unsafe class IQ4_XSDot
{
    public const int WeightBytes = 136;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => level switch
    {
        SimdLevel.Scalar => &Scalar,
        SimdLevel.Vector128 => &Vector128Path,
        _ => &Avx2Path,
    };

    private static int Scale(byte* w, int s) =>
        (((w[4 + s / 2] >> (4 * (s % 2))) & 0xF) | (((*(ushort*)(w + 2) >> (2 * s)) & 3) << 4)) - 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar(byte* w, byte* a, int blocks)
    {
        ReadOnlySpan<sbyte> kv = IQ4_NLDot.Levels;
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            sbyte* qa = (sbyte*)(a + ActQs);
            int sumi = 0;
            for (int s = 0; s < 8; s++)
            {
                byte* qs = w + 8 + 16 * s;
                int part = 0;
                for (int j = 0; j < 16; j++) part += kv[qs[j] & 0xF] * qa[32 * s + j] + kv[qs[j] >> 4] * qa[32 * s + 16 + j];
                sumi += Scale(w, s) * part;
            }
            sum += Fp16.Load(w) * *(float*)a * sumi;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        var table = IQ4_NLDot.LevelTable;
        var mask = Vector128.Create((byte)0x0F);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            sbyte* qa = (sbyte*)(a + ActQs);
            var acc = Vector128<int>.Zero;
            for (int s = 0; s < 8; s++)
            {
                var q = Vector128.Load(w + 8 + 16 * s);
                var lo = Vector128.Shuffle(table, (q & mask).AsSByte());
                var hi = Vector128.Shuffle(table, (Srl(q, 4) & mask).AsSByte());
                acc += (SimdOps.Dot128(lo, Vector128.Load(qa + 32 * s)) + SimdOps.Dot128(hi, Vector128.Load(qa + 32 * s + 16))) * Scale(w, s);
            }
            sum += Fp16.Load(w) * *(float*)a * Vector128.Sum(acc);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path(byte* w, byte* a, int blocks)
    {
        var table = Vector256.Create(IQ4_NLDot.LevelTable, IQ4_NLDot.LevelTable);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            sbyte* qa = (sbyte*)(a + ActQs);
            var acc = Vector256<int>.Zero;
            for (int s = 0; s < 8; s++)
            {
                var q = Avx2.Shuffle(table, SimdOps.Nibbles(Vector128.Load(w + 8 + 16 * s)).AsSByte());
                // |level| ≤ 127 and |a| ≤ 127: pmaddubsw pairs stay below 2^15, then pmaddwd applies the scale.
                acc += DotScaled(Avx2.Abs(q), Avx2.Sign(Vector256.Load(qa + 32 * s), q), Scale(w, s));
            }
            sum += Fp16.Load(w) * *(float*)a * SimdOps.HSum(acc);
        }
        return sum;
    }
}
