using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>Marker: the 256-bit kernels use pmaddubsw + pmaddwd for int8 products (plain AVX2).</summary>
internal struct NoVnni;

/// <summary>Marker: the 256-bit kernels use vpdpbusd (AVX-VNNI) for int8 products.</summary>
internal struct WithVnni;

/// <summary>
/// Integer and float building blocks shared by the dot kernels. The generic marker (<see cref="NoVnni"/> /
/// <see cref="WithVnni"/>) is a JIT-time constant, so each kernel compiles to one straight instruction path.
/// </summary>
internal static class SimdOps
{
    /// <summary>
    /// 8 int32 lanes, lane i = Σ_{j&lt;4} a[4i+j]·b[4i+j] for unsigned <paramref name="a"/> and signed <paramref name="b"/>.
    /// The AVX2 form saturates pairs at int16; callers keep a ≤ 128 and |b| ≤ 127 so it never does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotUS<TVnni>(Vector256<byte> a, Vector256<sbyte> b) where TVnni : struct
    {
        if (typeof(TVnni) == typeof(WithVnni)) return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, a, b);
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), Vector256.Create((short)1));
    }

    /// <summary>As <see cref="DotUS{TVnni}"/> for two signed vectors: |a| times b carrying a's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotSS<TVnni>(Vector256<sbyte> a, Vector256<sbyte> b) where TVnni : struct =>
        DotUS<TVnni>(Avx2.Abs(a), Avx2.Sign(b, a));

    /// <summary>Portable 128-bit int8 dot: 4 int32 lanes whose sum is Σ a[i]·b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Dot128(Vector128<sbyte> a, Vector128<sbyte> b)
    {
        var lo = Vector128.WidenLower(a) * Vector128.WidenLower(b);   // |product| ≤ 128·128 fits int16
        var hi = Vector128.WidenUpper(a) * Vector128.WidenUpper(b);
        return Vector128.WidenLower(lo) + Vector128.WidenUpper(lo) + Vector128.WidenLower(hi) + Vector128.WidenUpper(hi);
    }

    /// <summary>Horizontal int32 sum of a 256-bit vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int HSum(Vector256<int> v) => Vector128.Sum(v.GetLower() + v.GetUpper());

    /// <summary>
    /// Horizontal float sum of a 256-bit vector in ggml's pairing (its <c>hsum_float_8</c>):
    /// <c>t_i = v_i + v_{i+4}</c>, then <c>(t_0 + t_2) + (t_1 + t_3)</c>. <see cref="Vector128.Sum"/> pairs
    /// (t_0 + t_1) + (t_2 + t_3) instead, which rounds differently in the last bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum(Vector256<float> v) => HSum(v.GetLower() + v.GetUpper());

    /// <summary><c>(t_0 + t_2) + (t_1 + t_3)</c>, the last two steps of <see cref="HSum(Vector256{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum(Vector128<float> t)
    {
        var u = t + Vector128.Shuffle(t, Vector128.Create(2, 3, 0, 1));
        return u.ToScalar() + u.GetElement(1);
    }

    /// <summary>
    /// Horizontal float sum of a 512-bit vector as <c>_mm512_reduce_add_ps</c> pairs it: the two 256-bit halves
    /// added lane by lane, then <see cref="HSum(Vector256{float})"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum(Vector512<float> v) => HSum(v.GetLower() + v.GetUpper());

    /// <summary>The four horizontal sums [Σa, Σb, Σc, Σd]: halves added, then three pairwise-add steps shared by all four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sum4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        var a2 = a.GetLower() + a.GetUpper();
        var b2 = b.GetLower() + b.GetUpper();
        var c2 = c.GetLower() + c.GetUpper();
        var d2 = d.GetLower() + d.GetUpper();
        // hadd(x, y) per 128-bit lane: [x0+x1, x2+x3, y0+y1, y2+y3]; twice gives each vector's lane sum in its own slot.
        var abcd = Avx.HorizontalAdd(Avx.HorizontalAdd(a2, b2), Avx.HorizontalAdd(c2, d2));
        return abcd.GetLower() + abcd.GetUpper();
    }

    /// <summary>Two 128-bit halves: the low nibbles of <paramref name="q"/> then its high nibbles (as bytes 0..15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Nibbles(Vector128<byte> q)
    {
        var mask = Vector128.Create((byte)0x0F);
        return Vector256.Create(q & mask, Vector128.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & mask);
    }

    /// <summary>Byte i = 0xFF when bit i of <paramref name="bits"/> is set (i = 0..31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> BitsToBytes(uint bits)
    {
        var spread = Avx2.Shuffle(Vector256.Create(bits).AsByte(),
            Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var select = Vector256.Create(0x8040201008040201UL).AsByte();
        return Vector256.Equals(spread & select, select);
    }

    /// <summary>Portable 128-bit form of <see cref="BitsToBytes"/> for 16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> BitsToBytes128(uint bits16)
    {
        var spread = Vector128.Create((byte)bits16, (byte)bits16, (byte)bits16, (byte)bits16, (byte)bits16, (byte)bits16, (byte)bits16, (byte)bits16,
            (byte)(bits16 >> 8), (byte)(bits16 >> 8), (byte)(bits16 >> 8), (byte)(bits16 >> 8), (byte)(bits16 >> 8), (byte)(bits16 >> 8), (byte)(bits16 >> 8), (byte)(bits16 >> 8));
        var select = Vector128.Create(0x8040201008040201UL).AsByte();
        return Vector128.Equals(spread & select, select);
    }
}
