using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using HybridEngine.Quantization;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// IQ2_XXS and IQ2_XS weights · Q8_K activations (SPEC 2.8). Each 8 weights are a grid entry of magnitudes
/// (bytes of a u64) with 8 signs from <c>ksigns_iq2xs</c>; the dot is
/// <c>Σ_b d_w·d_a/8 · Σ_{32-sub-blocks} ls · Σ_{8-groups} Σ_j grid[j]·±a[j]</c> with odd integer scale ls:
/// IQ2_XXS (66 bytes: fp16 d, 8 × (u32 grid indices, u32 signs+scale)): ls = 2·(aux1 &gt;&gt; 28) + 1, group l signs
/// = ksigns[(aux1 &gt;&gt; 7l) &amp; 127]; IQ2_XS (74 bytes: fp16 d, 32 × u16, scales[8]): index = q &amp; 511,
/// signs = ksigns[q &gt;&gt; 9], ls = 2·nibble + 1 (low nibble for groups 0–1, high for 2–3).
/// The vector paths gather grid entries (two per 128 bits, four per 256) and move the signs onto the activations.
/// </summary>
internal static unsafe class IQ2Dot
{
    public const int XxsBytes = 66, XsBytes = 74;

    public static delegate*<byte*, byte*, int, float> For(GgmlType type, SimdLevel level) => (type, level) switch
    {
        (GgmlType.IQ2_XXS, SimdLevel.Scalar) => &XxsScalar,
        (GgmlType.IQ2_XXS, SimdLevel.Vector128) => &XxsVector128,
        (GgmlType.IQ2_XXS, _) => &XxsAvx2,
        (_, SimdLevel.Scalar) => &XsScalar,
        (_, SimdLevel.Vector128) => &XsVector128,
        _ => &XsAvx2,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float XxsVector128(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq2xxsGrid)
        fixed (ulong* signs = IqSimd.SignMasks)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += XxsBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                var acc = Vector128<int>.Zero;
                for (int ib = 0; ib < 8; ib++)
                {
                    byte* idx = w + 2 + 8 * ib;
                    uint aux1 = *(uint*)(w + 6 + 8 * ib);
                    var lo = SimdOps.Dot128(Vector128.Create(grid[idx[0]], grid[idx[1]]).AsSByte(),
                        IqSimd.ApplySigns(Vector128.Load(qa + 32 * ib), Vector128.Create(signs[aux1 & 127], signs[(aux1 >> 7) & 127])));
                    var hi = SimdOps.Dot128(Vector128.Create(grid[idx[2]], grid[idx[3]]).AsSByte(),
                        IqSimd.ApplySigns(Vector128.Load(qa + 32 * ib + 16), Vector128.Create(signs[(aux1 >> 14) & 127], signs[(aux1 >> 21) & 127])));
                    acc += (lo + hi) * (2 * (int)(aux1 >> 28) + 1);
                }
                sum += Fp16.Load(w) * *(float*)a * Vector128.Sum(acc);
            }
            return 0.125f * sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float XsVector128(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq2xsGrid)
        fixed (ulong* signs = IqSimd.SignMasks)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += XsBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                ushort* qs = (ushort*)(w + 2);
                byte* scales = w + 66;
                var acc = Vector128<int>.Zero;
                for (int ib = 0; ib < 8; ib++, qs += 4)
                {
                    var lo = SimdOps.Dot128(Vector128.Create(grid[qs[0] & 511], grid[qs[1] & 511]).AsSByte(),
                        IqSimd.ApplySigns(Vector128.Load(qa + 32 * ib), Vector128.Create(signs[qs[0] >> 9], signs[qs[1] >> 9])));
                    var hi = SimdOps.Dot128(Vector128.Create(grid[qs[2] & 511], grid[qs[3] & 511]).AsSByte(),
                        IqSimd.ApplySigns(Vector128.Load(qa + 32 * ib + 16), Vector128.Create(signs[qs[2] >> 9], signs[qs[3] >> 9])));
                    acc += lo * (2 * (scales[ib] & 0xF) + 1) + hi * (2 * (scales[ib] >> 4) + 1);
                }
                sum += Fp16.Load(w) * *(float*)a * Vector128.Sum(acc);
            }
            return 0.125f * sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float XxsAvx2(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq2xxsGrid)
        fixed (ulong* signs = IqSimd.SignMasks)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += XxsBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                var acc = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++)
                {
                    uint aux0 = *(uint*)(w + 2 + 8 * ib);
                    uint aux1 = *(uint*)(w + 6 + 8 * ib);
                    var magnitudes = Vector256.Create(grid[aux0 & 0xFF], grid[(aux0 >> 8) & 0xFF], grid[(aux0 >> 16) & 0xFF], grid[aux0 >> 24]).AsByte();
                    var masks = Vector256.Create(signs[aux1 & 127], signs[(aux1 >> 7) & 127], signs[(aux1 >> 14) & 127], signs[(aux1 >> 21) & 127]);
                    acc += KQuantScales.DotScaled(magnitudes, IqSimd.ApplySigns(Vector256.Load(qa + 32 * ib), masks), 2 * (int)(aux1 >> 28) + 1);
                }
                sum += Fp16.Load(w) * *(float*)a * SimdOps.HSum(acc);
            }
            return 0.125f * sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float XsAvx2(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq2xsGrid)
        fixed (ulong* signs = IqSimd.SignMasks)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += XsBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                ushort* qs = (ushort*)(w + 2);
                byte* scales = w + 66;
                var acc = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++, qs += 4)
                {
                    var magnitudes = Vector256.Create(grid[qs[0] & 511], grid[qs[1] & 511], grid[qs[2] & 511], grid[qs[3] & 511]).AsByte();
                    var masks = Vector256.Create(signs[qs[0] >> 9], signs[qs[1] >> 9], signs[qs[2] >> 9], signs[qs[3] >> 9]);
                    acc += KQuantScales.DotScaled(magnitudes, IqSimd.ApplySigns(Vector256.Load(qa + 32 * ib), masks), 2 * (scales[ib] & 0xF) + 1, 2 * (scales[ib] >> 4) + 1);
                }
                sum += Fp16.Load(w) * *(float*)a * SimdOps.HSum(acc);
            }
            return 0.125f * sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float XxsScalar(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq2xxsGrid)
        fixed (byte* signs = IqTables.KsignsIq2xs)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += XxsBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                int bsum = 0;
                for (int ib = 0; ib < 8; ib++)
                {
                    uint aux0 = *(uint*)(w + 2 + 8 * ib);
                    uint aux1 = *(uint*)(w + 6 + 8 * ib);
                    int ls = 2 * (int)(aux1 >> 28) + 1;
                    int sumi = 0;
                    for (int l = 0; l < 4; l++)
                    {
                        byte* g = (byte*)(grid + ((aux0 >> (8 * l)) & 0xFF));
                        sumi += Group(g, signs[(aux1 >> (7 * l)) & 127], qa + 32 * ib + 8 * l);
                    }
                    bsum += sumi * ls;
                }
                sum += Fp16.Load(w) * *(float*)a * bsum;
            }
            return 0.125f * sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float XsScalar(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq2xsGrid)
        fixed (byte* signs = IqTables.KsignsIq2xs)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += XsBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                ushort* qs = (ushort*)(w + 2);
                byte* scales = w + 66;
                int bsum = 0;
                for (int ib = 0; ib < 8; ib++)
                {
                    int lo = 0, hi = 0;
                    for (int l = 0; l < 4; l++)
                    {
                        int q = qs[4 * ib + l];
                        int part = Group((byte*)(grid + (q & 511)), signs[q >> 9], qa + 32 * ib + 8 * l);
                        if (l < 2) lo += part; else hi += part;
                    }
                    bsum += lo * (2 * (scales[ib] & 0xF) + 1) + hi * (2 * (scales[ib] >> 4) + 1);
                }
                sum += Fp16.Load(w) * *(float*)a * bsum;
            }
            return 0.125f * sum;
        }
    }

    /// <summary>Σ_j magnitude[j]·a[j], negated where bit j of <paramref name="signs"/> is set (branch-free: signs are random).</summary>
    internal static int Group(byte* magnitudes, int signs, sbyte* a)
    {
        int sum = 0;
        for (int j = 0; j < 8; j++) sum += magnitudes[j] * a[j] * (1 - (((signs >> j) & 1) << 1));
        return sum;
    }
}
