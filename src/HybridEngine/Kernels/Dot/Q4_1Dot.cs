using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q4_1 and Q5_1 weights · Q8_1 activations: <c>Σ_b [d_w·d_a · Σ_j q_j·a[j] + m_w·s_a]</c>, where <c>s_a = d_a·Σ a</c> is
/// stored in the activation block, so the offset m never touches the quants. q is unsigned (0..15 for Q4_1,
/// 0..31 for Q5_1 with bit j of the u32 qh as bit 4 of element j). Weight blocks: fp16 d, fp16 m, [u32 qh,] 16 nibble bytes.
/// </summary>
internal static unsafe class Q4_1Dot
{
    public const int Q4_1Bytes = 20, Q5_1Bytes = 24, ActBytes = 36;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level, bool fiveBit) => (level, fiveBit) switch
    {
        (SimdLevel.Scalar, false) => &Scalar<Four>,
        (SimdLevel.Scalar, true) => &Scalar<Five>,
        (SimdLevel.Vector128, false) => &Vector128Path<Four>,
        (SimdLevel.Vector128, true) => &Vector128Path<Five>,
        (SimdLevel.Avx2, false) => &Avx2Path<Four, NoVnni>,
        (SimdLevel.Avx2, true) => &Avx2Path<Five, NoVnni>,
        (_, false) => AvxVnni.IsSupported ? &Avx2Path<Four, WithVnni> : &Avx2Path<Four, NoVnni>,
        (_, true) => AvxVnni.IsSupported ? &Avx2Path<Five, WithVnni> : &Avx2Path<Five, NoVnni>,
    };

    /// <summary>Marker for Q4_1 (no high bits).</summary>
    internal struct Four;

    /// <summary>Marker for Q5_1 (u32 of high bits after d and m).</summary>
    internal struct Five;

    private static bool IsFive<T>() => typeof(T) == typeof(Five);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar<TBits>(byte* w, byte* a, int blocks) where TBits : struct
    {
        int stride = IsFive<TBits>() ? Q5_1Bytes : Q4_1Bytes;
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += stride, a += ActBytes)
        {
            uint qh = IsFive<TBits>() ? *(uint*)(w + 4) : 0;
            byte* qs = w + (IsFive<TBits>() ? 8 : 4);
            sbyte* qa = (sbyte*)(a + 4);
            int sumi = 0;
            for (int j = 0; j < 16; j++)
            {
                int lo = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
                int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
                sumi += lo * qa[j] + hi * qa[j + 16];
            }
            sum += Fp16.Load(w) * Fp16.Load(a) * sumi + Fp16.Load(w + 2) * Fp16.Load(a + 2);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path<TBits>(byte* w, byte* a, int blocks) where TBits : struct
    {
        int stride = IsFive<TBits>() ? Q5_1Bytes : Q4_1Bytes;
        var mask = Vector128.Create((byte)0x0F);
        var bit4 = Vector128.Create((byte)0x10);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += stride, a += ActBytes)
        {
            var q = Vector128.Load(w + (IsFive<TBits>() ? 8 : 4));
            var lo = q & mask;
            var hi = Vector128.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & mask;
            if (IsFive<TBits>())
            {
                uint qh = *(uint*)(w + 4);
                lo |= SimdOps.BitsToBytes128(qh & 0xFFFF) & bit4;
                hi |= SimdOps.BitsToBytes128(qh >> 16) & bit4;
            }
            var p = SimdOps.Dot128(lo.AsSByte(), Vector128.Load((sbyte*)(a + 4))) + SimdOps.Dot128(hi.AsSByte(), Vector128.Load((sbyte*)(a + 20)));
            sum += Fp16.Load(w) * Fp16.Load(a) * Vector128.Sum(p) + Fp16.Load(w + 2) * Fp16.Load(a + 2);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path<TBits, TVnni>(byte* w, byte* a, int blocks) where TBits : struct where TVnni : struct
    {
        int stride = IsFive<TBits>() ? Q5_1Bytes : Q4_1Bytes;
        var bit4 = Vector256.Create((byte)0x10);
        var acc = Vector256<float>.Zero;
        float offsets = 0;
        for (int b = 0; b < blocks; b++, w += stride, a += ActBytes)
        {
            var q = SimdOps.Nibbles(Vector128.Load(w + (IsFive<TBits>() ? 8 : 4)));
            if (IsFive<TBits>()) q |= SimdOps.BitsToBytes(*(uint*)(w + 4)) & bit4;
            var p = SimdOps.DotUS<TVnni>(q, Vector256.Load((sbyte*)(a + 4)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Fp16.Load(w) * Fp16.Load(a)), acc);
            offsets += Fp16.Load(w + 2) * Fp16.Load(a + 2);
        }
        return SimdOps.HSum(acc) + offsets;
    }
}
