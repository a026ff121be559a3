using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q4_K weights · Q8_K activations for one token on 512-bit vectors with AVX-512 VBMI byte permutes. The math is
/// <see cref="Q4_KDot"/>'s: <c>Σ_b [ d_w·d_a · Σ_s sc_s · Σ_{32} q·a  −  dmin_w·d_a · Σ_g bsums[g]·m_{g/2} ]</c>, and
/// <see cref="Q4_KDot.Scalar"/> is the reference twin; the integer sums are the same as <see cref="Q4_KAvx512.Dot"/>'s.
/// <para>Less work per block than <see cref="Q4_KAvx512.Dot"/>, whose scalar scale unpacking and per-chunk nibble
/// splitting dominated: the 12 packed scale bytes are rearranged into 8 scales and 8 mins with two byte shuffles and
/// a few masks in one 128-bit register; each chunk's int16 scale multiplier and the min words then come out of that
/// register with one vpermb each (odd bytes taken from a zero byte, so the words are zero-extended). The 128 nibble
/// bytes are split with two 512-bit loads, and one 128-bit-lane shuffle per chunk puts chunk c's low nibbles
/// (sub-block 2c) in the lower half and its high nibbles (sub-block 2c+1) in the upper half, matching 64 consecutive
/// activation bytes.</para>
/// </summary>
internal static unsafe class Q4_KAvx512Vbmi
{
    private const int WeightBytes = Q4_KDot.WeightBytes;

    /// <summary>Whether this CPU runs <see cref="Dot"/>.</summary>
    public static bool IsSupported => Avx512BW.IsSupported && Avx512Vbmi.IsSupported && Avx512Vbmi.VL.IsSupported;

    /// <summary>One row · one token: same signature as the other dot kernels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static float Dot(byte* w, byte* a, int blocks)
    {
        float* f16 = Fp16.Pointer;   // first: nothing is live across its possible class-initialisation call
        var acc = Vector512<float>.Zero;
        var accMin = Vector256<float>.Zero;
        var mask = Vector512.Create((byte)0x0F);
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            WeightPrefetch.Block(w, WeightBytes);
            var sm = ScalesAndMins(w + 4);
            var sm512 = sm.ToVector256().ToVector512();
            var w0 = Vector512.Load(w + 16);
            var w1 = Vector512.Load(w + 80);
            var lo0 = (w0 & mask).AsInt32();
            var hi0 = (Vector512.ShiftRightLogical(w0.AsUInt16(), 4).AsByte() & mask).AsInt32();
            var lo1 = (w1 & mask).AsInt32();
            var hi1 = (Vector512.ShiftRightLogical(w1.AsUInt16(), 4).AsByte() & mask).AsInt32();
            sbyte* qa = (sbyte*)(a + ActQs);
            // 0x44: lanes 0,1 of lo then lanes 0,1 of hi (first chunk of the pair); 0xEE: lanes 2,3 of each.
            var sum = Products(Avx512F.Shuffle4x128(lo0, hi0, 0x44), Vector512.Load(qa), sm512, ScaleIndex0)
                    + Products(Avx512F.Shuffle4x128(lo0, hi0, 0xEE), Vector512.Load(qa + 64), sm512, ScaleIndex1)
                    + Products(Avx512F.Shuffle4x128(lo1, hi1, 0x44), Vector512.Load(qa + 128), sm512, ScaleIndex2)
                    + Products(Avx512F.Shuffle4x128(lo1, hi1, 0xEE), Vector512.Load(qa + 192), sm512, ScaleIndex3);
            float da = *(float*)a;
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sum), Vector512.Create(f16[*(ushort*)w] * da), acc);
            var m16 = Avx512Vbmi.VL.PermuteVar32x8(sm.ToVector256(), MinIndex).AsInt16();
            var minDot = Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(a + ActBsums)), m16);
            accMin = Fma.MultiplyAdd(Avx.ConvertToVector256Single(minDot), Vector256.Create(f16[*(ushort*)(w + 2)] * da), accMin);
        }
        return Vector512.Sum(acc) - Vector256.Sum(accMin);
    }

    /// <summary>
    /// The 12 packed scale bytes <c>q</c> (SPEC 2.3) → bytes 0..7 = scales of sub-blocks 0..7, bytes 8..15 = mins,
    /// bytes 16+ zero. j&lt;4: sc = q[j]&amp;63, m = q[j+4]&amp;63; j≥4: sc = (q[j+4]&amp;15) | (q[j−4]≫6)≪4,
    /// m = (q[j+4]≫4) | (q[j]≫6)≪4. Reads 16 bytes (the last 4 belong to the nibbles and are ignored).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> ScalesAndMins(byte* q)
    {
        var x = Vector128.Load(q);
        // Low-part source q[j] / q[j+4] and high-part source q[j−4] / q[j] per output byte (0x80 → 0).
        var low = Ssse3.Shuffle(x, Vector128.Create((byte)0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
        var high = Ssse3.Shuffle(x, Vector128.Create((byte)0x80, 0x80, 0x80, 0x80, 0, 1, 2, 3, 0x80, 0x80, 0x80, 0x80, 4, 5, 6, 7));
        // Mins 4..7 take the upper nibble of q[j+4]; everything else the low 6 or 4 bits in place.
        var shifted = Srl(low, 4);
        low = Vector128.ConditionalSelect(Vector128.Create(0, 0, 0, -1).AsByte(), shifted, low)
            & Vector128.Create((byte)63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15);
        // (h ≫ 6) ≪ 4 per byte = (h ≫ 2) & 0x30; bits shifted in from the neighbouring byte are masked off.
        return low | (Srl(high, 2) & Vector128.Create((byte)0x30));
    }

    /// <summary><c>pmaddwd(pmaddubsw(q, a), S)</c>, S = words of the scale bytes picked by <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Products(Vector512<int> q, Vector512<sbyte> a, Vector512<byte> scalesAndMins, Vector512<byte> index) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q.AsByte(), a),
            Avx512Vbmi.PermuteVar64x8(scalesAndMins, index).AsInt16());

    private static Vector512<byte> ScaleIndex0 => ScaleIndex(0);
    private static Vector512<byte> ScaleIndex1 => ScaleIndex(1);
    private static Vector512<byte> ScaleIndex2 => ScaleIndex(2);
    private static Vector512<byte> ScaleIndex3 => ScaleIndex(3);

    /// <summary>vpermb index for chunk c: words 0..15 = scale byte 2c, words 16..31 = scale byte 2c+1, high bytes from byte 16 (zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> ScaleIndex(int c)
    {
        ushort lo = (ushort)(0x1000 | (2 * c)), hi = (ushort)(0x1000 | (2 * c + 1));
        return Vector512.Create(lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo,
            hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi).AsByte();
    }

    /// <summary>vpermb index for the min words: group g (16 per block) takes min byte 8 + g/2, high bytes from byte 16 (zero).</summary>
    private static Vector256<byte> MinIndex
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get =>  Vector256.Create((ushort)0x1008, 0x1008, 0x1009, 0x1009, 0x100A, 0x100A, 0x100B, 0x100B,
        0x100C, 0x100C, 0x100D, 0x100D, 0x100E, 0x100E, 0x100F, 0x100F).AsByte();
    }
}
