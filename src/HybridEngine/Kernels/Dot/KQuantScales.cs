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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Srl(Vector256<byte> v, int shift) => Vector256.ShiftRightLogical(v.AsUInt16(), shift).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Srl(Vector128<byte> v, int shift) => Vector128.ShiftRightLogical(v.AsUInt16(), shift).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Sll(Vector256<byte> v, int shift) => Vector256.ShiftLeft(v.AsUInt16(), shift).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Sll(Vector128<byte> v, int shift) => Vector128.ShiftLeft(v.AsUInt16(), shift).AsByte();
}
