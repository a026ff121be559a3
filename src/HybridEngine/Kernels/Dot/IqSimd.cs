using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using HybridEngine.Quantization;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Tables that let the IQ kernels apply signs in vectors: for each of the 128 ksigns_iq2xs patterns, a u64 whose
/// byte j is 0xFF when value j is negative. <c>(a ^ m) − m</c> then negates exactly those activation bytes
/// (safe: Q8_K activations lie in −127..127).
/// </summary>
internal static class IqSimd
{
    public static readonly ulong[] SignMasks = BuildSignMasks();

    private static ulong[] BuildSignMasks()
    {
        var masks = new ulong[128];
        var signs = IqTables.KsignsIq2xs;
        for (int i = 0; i < 128; i++)
        {
            ulong m = 0;
            for (int j = 0; j < 8; j++)
            {
                if ((signs[i] & (1 << j)) != 0) m |= 0xFFUL << (8 * j);
            }
            masks[i] = m;
        }
        return masks;
    }

    /// <summary>Negates the activation bytes whose mask byte is 0xFF (128-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> ApplySigns(Vector128<sbyte> a, Vector128<ulong> masks)
    {
        var m = masks.AsSByte();
        return (a ^ m) - m;
    }

    /// <summary>Negates the activation bytes whose mask byte is 0xFF.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> ApplySigns(Vector256<sbyte> a, Vector256<ulong> masks)
    {
        var m = masks.AsSByte();
        return (a ^ m) - m;
    }
}
