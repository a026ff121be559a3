using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>Scale unpacking and per-lane scaling shared by the K-quant dot kernels; Q8_K activation offsets.</summary>
internal static unsafe class KQuantScales
{
    /// <summary>Q8_K activation block: float32 d at 0, 256 × int8 at 4, 16 × int16 group sums at 260; 292 bytes.</summary>
    public const int ActBytes = 292, ActQs = 4, ActBsums = 260;

    /// <summary>
    /// Q4_K / Q5_K 6-bit scale and min of sub-block j from the 12 packed bytes <paramref name="q"/> (SPEC 2.3):
    /// j&lt;4: sc = q[j]&amp;63, m = q[j+4]&amp;63; j≥4: low 4 bits from q[j+4], high 2 bits from the top of q[j−4] / q[j].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleMinK4(byte* q, int j, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    /// <summary>Q3_K signed 6-bit scale j (0..15) from the 12 packed bytes (SPEC 2.6), in −32..31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ScaleQ3K(byte* scales, int j)
    {
        int lo4 = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
        int hi2 = (scales[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        return (lo4 | (hi2 << 4)) - 32;
    }

    /// <summary>Σ_g bsums[g]·scale[g] over the 16 groups of a Q8_K block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WeightedBsums(byte* act, int* scale16)
    {
        short* bsums = (short*)(act + ActBsums);
        int sum = 0;
        for (int g = 0; g < 16; g++) sum += bsums[g] * scale16[g];
        return sum;
    }

    /// <summary>Lanes 0..3 times <paramref name="lowScale"/>, lanes 4..7 times <paramref name="highScale"/>:
    /// each half of a 32-element int8 dot covers one 16-element group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> ScaleHalves(Vector256<int> p, int lowScale, int highScale) =>
        Avx2.MultiplyLow(p, Vector256.Create(Vector128.Create(lowScale), Vector128.Create(highScale)));

    /// <summary>
    /// 8 int32 lanes of Σ u·a, each 4-element lane times its 16-element group's scale: pmaddubsw gives int16 pair
    /// sums (|u| ≤ 127 here, so they never saturate), pmaddwd multiplies by the scale and adds pairs in one step.
    /// Lanes 0..3 take <paramref name="lowScale"/>, lanes 4..7 <paramref name="highScale"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotScaled(Vector256<byte> u, Vector256<sbyte> a, int lowScale, int highScale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, a),
            Vector256.Create(Vector128.Create((short)lowScale), Vector128.Create((short)highScale)));

    /// <summary><see cref="DotScaled(Vector256{byte}, Vector256{sbyte}, int, int)"/> with one scale for all 32 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotScaled(Vector256<byte> u, Vector256<sbyte> a, int scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, a), Vector256.Create((short)scale));

    /// <summary>Σ_g bsums[g]·scale[g] for 16 int16 group scales in a vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WeightedBsums(byte* act, Vector256<short> scale16) =>
        SimdOps.HSum(Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(act + ActBsums)), scale16));

    /// <summary>
    /// The Q4_K/Q5_K 12 scale bytes rearranged (SPEC 2.3) into 8 scale bytes (<paramref name="scales"/>, byte j = sub-block
    /// j) and 8 min bytes, with 32-bit masks: bytes 0–3 hold scales/mins 0–3 in their low 6 bits; scales/mins 4–7 take
    /// their low 4 bits from bytes 8–11 and their top 2 bits from the top of bytes 0–3 / 4–7.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleMinK4(byte* q, out ulong scales, out ulong mins)
    {
        uint u0 = *(uint*)q, u1 = *(uint*)(q + 4), u2 = *(uint*)(q + 8);
        const uint low6 = 0x3F3F3F3F, low4 = 0x0F0F0F0F, low2 = 0x03030303;
        uint scalesHigh = (u2 & low4) | (((u0 >> 6) & low2) << 4);
        uint minsHigh = ((u2 >> 4) & low4) | (((u1 >> 6) & low2) << 4);
        scales = (u0 & low6) | ((ulong)scalesHigh << 32);
        mins = (u1 & low6) | ((ulong)minsHigh << 32);
    }

    /// <summary>The 16 signed Q3_K scales (SPEC 2.6) as int16, from 32-bit masks over the 12 packed bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> ScalesQ3K(byte* q)
    {
        uint a0 = *(uint*)q, a1 = *(uint*)(q + 4), hi = *(uint*)(q + 8);
        const uint low4 = 0x0F0F0F0F, low2 = 0x03030303;
        uint s0 = (a0 & low4) | ((hi & low2) << 4);
        uint s1 = (a1 & low4) | (((hi >> 2) & low2) << 4);
        uint s2 = ((a0 >> 4) & low4) | (((hi >> 4) & low2) << 4);
        uint s3 = ((a1 >> 4) & low4) | (((hi >> 6) & low2) << 4);
        var bytes = Vector128.Create(s0, s1, s2, s3).AsByte();
        return Avx2.ConvertToVector256Int16(bytes) - Vector256.Create((short)32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Srl(Vector256<byte> v, int shift) => Vector256.ShiftRightLogical(v.AsUInt16(), shift).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Srl(Vector128<byte> v, int shift) => Vector128.ShiftRightLogical(v.AsUInt16(), shift).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Sll(Vector256<byte> v, int shift) => Vector256.ShiftLeft(v.AsUInt16(), shift).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Sll(Vector128<byte> v, int shift) => Vector128.ShiftLeft(v.AsUInt16(), shift).AsByte();
}
