using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using HybridEngine.Quantization;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// IQ1_S and IQ1_M weights · Q8_K activations. Weights are <c>dl·(g + δ)</c> with g ∈ {−1,0,1} from the 2048-entry
/// iq1s grid and δ = ±1/8, so per 8-group <c>Σ w·a = dl·(Σ g·a + δ·Σ a)</c>; the Σ a come from the activation's bsums
/// (IQ1_S) or are summed directly (IQ1_M, whose δ changes every 8 values).
/// IQ1_S (50 bytes: fp16 d, qs[32], u16 qh[8]): sub-block ib has ls = 2·((qh &gt;&gt; 12) &amp; 7) + 1, δ sign = qh bit 15,
/// group l index = qs[4ib+l] | ((qh &gt;&gt; 3l) &amp; 7) &lt;&lt; 8.
/// IQ1_M (56 bytes: qs[32], qh[16], u16 scales[4]): fp16 d assembled from the scales' top nibbles; two 3-bit
/// scales per sub-block (groups 0–1, 2–3); each qh byte holds two 3-bit index highs and two δ sign bits (3 and 7).
/// The vector paths gather grid entries (two per 128 bits, four per 256); IQ1_M's Vector128 level uses the scalar twin.
/// </summary>
internal static unsafe class IQ1Dot
{
    public const int SBytes = 50, MBytes = 56;
    private const float Delta = 0.125f;

    public static delegate*<byte*, byte*, int, float> For(GgmlType type, SimdLevel level) => (type, level) switch
    {
        (GgmlType.IQ1_S, SimdLevel.Scalar) => &SScalar,
        (GgmlType.IQ1_S, SimdLevel.Vector128) => &SVector128,
        (GgmlType.IQ1_S, _) => &SAvx2,
        (_, SimdLevel.Scalar or SimdLevel.Vector128) => &MScalar,
        _ => &MAvx2,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SVector128(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq1sGrid)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += SBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                short* bsums = (short*)(a + ActBsums);
                byte* qs = w + 2;
                ushort* qh = (ushort*)(w + 34);
                var acc = Vector128<int>.Zero;
                int sumDelta = 0;
                for (int ib = 0; ib < 8; ib++, qs += 4)
                {
                    int h = qh[ib];
                    int ls = 2 * ((h >> 12) & 7) + 1;
                    var lo = SimdOps.Dot128(Vector128.Create(grid[qs[0] | ((h << 8) & 0x700)], grid[qs[1] | ((h << 5) & 0x700)]).AsSByte(), Vector128.Load(qa + 32 * ib));
                    var hi = SimdOps.Dot128(Vector128.Create(grid[qs[2] | ((h << 2) & 0x700)], grid[qs[3] | ((h >> 1) & 0x700)]).AsSByte(), Vector128.Load(qa + 32 * ib + 16));
                    acc += (lo + hi) * ls;
                    sumDelta += ls * (1 - ((h >> 14) & 2)) * (bsums[2 * ib] + bsums[2 * ib + 1]);
                }
                sum += Fp16.Load(w) * *(float*)a * (Vector128.Sum(acc) + Delta * sumDelta);
            }
            return sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SAvx2(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq1sGrid)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += SBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                short* bsums = (short*)(a + ActBsums);
                byte* qs = w + 2;
                ushort* qh = (ushort*)(w + 34);
                var acc = Vector256<int>.Zero;
                int sumDelta = 0;
                for (int ib = 0; ib < 8; ib++, qs += 4)
                {
                    int h = qh[ib];
                    var g = Vector256.Create(grid[qs[0] | ((h << 8) & 0x700)], grid[qs[1] | ((h << 5) & 0x700)],
                        grid[qs[2] | ((h << 2) & 0x700)], grid[qs[3] | ((h >> 1) & 0x700)]).AsSByte();
                    int ls = 2 * ((h >> 12) & 7) + 1;
                    var act = Vector256.Load(qa + 32 * ib);
                    acc += KQuantScales.DotScaled(Avx2.Abs(g), Avx2.Sign(act, g), ls);
                    int delta = 1 - ((h >> 14) & 2);   // −1 when bit 15 is set, branch-free
                    sumDelta += ls * delta * (bsums[2 * ib] + bsums[2 * ib + 1]);
                }
                sum += Fp16.Load(w) * *(float*)a * (SimdOps.HSum(acc) + Delta * sumDelta);
            }
            return sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float MAvx2(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq1sGrid)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += MBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                byte* qs = w;
                byte* qh = w + 32;
                ushort* sc = (ushort*)(w + 48);
                ushort dBits = (ushort)((sc[0] >> 12) | ((sc[1] >> 8) & 0xF0) | ((sc[2] >> 4) & 0xF00) | (sc[3] & 0xF000));
                var acc = Vector256<int>.Zero;
                var accDelta = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++, qs += 4, qh += 2)
                {
                    int shift = 6 * (ib % 2);
                    int ls1 = 2 * ((sc[ib / 2] >> shift) & 7) + 1;
                    int ls2 = 2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1;
                    var g = Vector256.Create(grid[qs[0] | ((qh[0] << 8) & 0x700)], grid[qs[1] | ((qh[0] << 4) & 0x700)],
                        grid[qs[2] | ((qh[1] << 8) & 0x700)], grid[qs[3] | ((qh[1] << 4) & 0x700)]).AsSByte();
                    // ±1 in every byte of a group: −1 where that group's δ sign bit (3 or 7 of its qh byte) is set.
                    var deltas = Vector256.Create(DeltaBytes(qh[0] & 0x08), DeltaBytes(qh[0] & 0x80), DeltaBytes(qh[1] & 0x08), DeltaBytes(qh[1] & 0x80)).AsSByte();
                    var act = Vector256.Load(qa + 32 * ib);
                    acc += KQuantScales.DotScaled(Avx2.Abs(g), Avx2.Sign(act, g), ls1, ls2);
                    accDelta += KQuantScales.DotScaled(Avx2.Abs(deltas), Avx2.Sign(act, deltas), ls1, ls2);
                }
                sum += Fp16.ToFloat(dBits) * *(float*)a * (SimdOps.HSum(acc) + Delta * SimdOps.HSum(accDelta));
            }
            return sum;
        }
    }

    /// <summary>Eight bytes of +1, or of −1 when <paramref name="signBit"/> is non-zero (branch-free: the bits are random).</summary>
    private static ulong DeltaBytes(int signBit) => 0x0101010101010101UL | (0UL - (ulong)(signBit != 0 ? 1 : 0));

    private static int GridDot(ulong* grid, int index, sbyte* a)
    {
        sbyte* g = (sbyte*)(grid + index);
        int sum = 0;
        for (int j = 0; j < 8; j++) sum += g[j] * a[j];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SScalar(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq1sGrid)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += SBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                short* bsums = (short*)(a + ActBsums);
                byte* qs = w + 2;
                ushort* qh = (ushort*)(w + 34);
                int sumi = 0, sumDelta = 0;
                for (int ib = 0; ib < 8; ib++)
                {
                    int h = qh[ib];
                    int ls = 2 * ((h >> 12) & 7) + 1;
                    int lsum = 0;
                    for (int l = 0; l < 4; l++) lsum += GridDot(grid, qs[4 * ib + l] | (((h >> (3 * l)) & 7) << 8), qa + 32 * ib + 8 * l);
                    sumi += ls * lsum;
                    int delta = 1 - ((h >> 14) & 2);   // −1 when bit 15 is set, branch-free
                    sumDelta += ls * delta * (bsums[2 * ib] + bsums[2 * ib + 1]);
                }
                sum += Fp16.Load(w) * *(float*)a * (sumi + Delta * sumDelta);
            }
            return sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float MScalar(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq1sGrid)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += MBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                byte* qs = w;
                byte* qh = w + 32;
                ushort* sc = (ushort*)(w + 48);
                ushort dBits = (ushort)((sc[0] >> 12) | ((sc[1] >> 8) & 0xF0) | ((sc[2] >> 4) & 0xF00) | (sc[3] & 0xF000));
                int sumi = 0, sumDelta = 0;
                for (int ib = 0; ib < 8; ib++)
                {
                    int shift = 6 * (ib % 2);
                    int ls1 = 2 * ((sc[ib / 2] >> shift) & 7) + 1;
                    int ls2 = 2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1;
                    for (int l = 0; l < 4; l++)
                    {
                        int h = qh[2 * ib + l / 2] >> (4 * (l % 2));   // this group's nibble: index bits 0..2, δ sign bit 3
                        int index = qs[4 * ib + l] | ((h & 7) << 8);
                        sbyte* ag = qa + 32 * ib + 8 * l;
                        int asum = 0;
                        for (int j = 0; j < 8; j++) asum += ag[j];
                        int ls = l < 2 ? ls1 : ls2;
                        sumi += ls * GridDot(grid, index, ag);
                        sumDelta += ls * asum * (1 - ((h >> 2) & 2));   // −1 when bit 3 is set
                    }
                }
                sum += Fp16.ToFloat(dBits) * *(float*)a * (sumi + Delta * sumDelta);
            }
            return sum;
        }
    }
}
