using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q4_K weights · Q8_K activations on 512-bit vectors, for one token (<see cref="Dot"/>) and for one weight row against
/// up to eight tokens at once (<see cref="Dot4"/>, the matrix-matrix path). The math is <see cref="Q4_KDot"/>'s:
/// <c>Σ_b [ d_w·d_a · Σ_s sc_s · Σ_{32} q·a  −  dmin_w·d_a · Σ_g bsums[g]·m_{g/2} ]</c>, and <see cref="Q4_KDot.Scalar"/>
/// is the reference twin.
/// <para>One 64-element chunk c (32 weight bytes) fills a 512-bit vector: its low nibbles (sub-block 2c) in the lower
/// half and its high nibbles (sub-block 2c+1) in the upper half, matching 64 consecutive activation bytes. pmaddubsw
/// makes int16 pair sums (≤ 2·15·127, no saturation) and pmaddwd multiplies them by the sub-block scale (lower half
/// sc[2c], upper half sc[2c+1]) into exact int32 lanes. Each block's int32 vector is converted to float and
/// accumulated with <c>d_w·d_a</c> by FMA, so lanes are summed once per row instead of once per block.</para>
/// <para>In <see cref="Dot4"/> a block's nibbles and scales are unpacked once and kept in registers for up to eight
/// tokens: the unpacking is shared and only the int8 products remain per token.</para>
/// </summary>
internal static unsafe class Q4_KAvx512
{
    private const int WeightBytes = Q4_KDot.WeightBytes;

    /// <summary>One row · one token: same signature as the other dot kernels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]   // see DotN
    public static float Dot(byte* w, byte* a, int blocks)
    {
        float* f16 = Fp16.Pointer;   // first: nothing is live across its possible class-initialisation call
        var acc = Vector512<float>.Zero;
        var accMin = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            WeightPrefetch.Block(w, WeightBytes);
            ScaleMinK4(w + 4, out ulong scales, out ulong mins);
            var s16 = ScaleWords(scales);
            var sum = Chunk(w + 16, a + ActQs, Scale(s16, 0)) + Chunk(w + 48, a + ActQs + 64, Scale(s16, 1))
                    + Chunk(w + 80, a + ActQs + 128, Scale(s16, 2)) + Chunk(w + 112, a + ActQs + 192, Scale(s16, 3));
            float da = *(float*)a;
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sum), Vector512.Create(f16[*(ushort*)w] * da), acc);
            accMin = MinTerm(a, MinWords(mins), f16[*(ushort*)(w + 2)] * da, accMin);
        }
        return Vector512.Sum(acc) - Vector256.Sum(accMin);
    }

    /// <summary>Most tokens <see cref="Dot4"/> takes per call.</summary>
    public const int MaxTokens = 8;

    /// <summary>
    /// <c>y[t·yStride] = row · token t</c> for the <paramref name="tokens"/> (1..8) tokens whose activation rows start
    /// at <c>a + t·aStride</c>.
    /// </summary>
    public static void Dot4(byte* w, byte* a, long aStride, int tokens, int blocks, float* y, long yStride)
    {
        switch (tokens)
        {
            case 8: DotN<Eight>(w, a, aStride, blocks, y, yStride); break;
            case 7: DotN<Seven>(w, a, aStride, blocks, y, yStride); break;
            case 6: DotN<Six>(w, a, aStride, blocks, y, yStride); break;
            case 5: DotN<Five>(w, a, aStride, blocks, y, yStride); break;
            case 4: DotN<Four>(w, a, aStride, blocks, y, yStride); break;
            case 3: DotN<Three>(w, a, aStride, blocks, y, yStride); break;
            case 2: DotN<Two>(w, a, aStride, blocks, y, yStride); break;
            case 1: *y = Q4_KAvx512Vbmi.IsSupported ? Q4_KAvx512Vbmi.Dot(w, a, blocks) : Dot(w, a, blocks); break;
            default: throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens; the kernel takes 1 to {MaxTokens}.");
        }
    }

    /// <summary>
    /// <see cref="Dot4"/> for <c>T.Count</c> tokens: the JIT compiles one body per count, unused tokens removed. Per
    /// block, what does not depend on the token (nibbles, scale words, min words, d and dmin broadcast) is built once;
    /// per token remain the int8 products and <c>acc += (d_w·float(Σscaled) − dmin_w·float(Σmins)) · d_a</c>, the min
    /// term widened to the same 16 float lanes (its upper 8 are zero) so one accumulator serves both.
    /// </summary>
    // Not inlined into the dispatcher: there its calls and throw would make the JIT keep the accumulators on the stack.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void DotN<T>(byte* w, byte* a, long aStride, int blocks, float* y, long yStride) where T : struct, ITokenCount
    {
        float* f16 = Fp16.Pointer;   // first: nothing is live across its possible class-initialisation call
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        Vector512<float> acc4 = default, acc5 = default, acc6 = default, acc7 = default;
        long s4 = 4 * aStride;
        byte* a0 = a, a1 = a + aStride, a2 = a + 2 * aStride, a3 = a + 3 * aStride;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a0 += ActBytes, a1 += ActBytes, a2 += ActBytes, a3 += ActBytes)
        {
            ScaleMinK4(w + 4, out ulong scales, out ulong mins);
            var s16 = ScaleWords(scales);
            var k = new BlockConstants
            {
                Q0 = Nibbles(w + 16), Q1 = Nibbles(w + 48), Q2 = Nibbles(w + 80), Q3 = Nibbles(w + 112),
                S0 = Scale(s16, 0), S1 = Scale(s16, 1), S2 = Scale(s16, 2), S3 = Scale(s16, 3),
                Mins = MinWords(mins).ToVector512(),
                D = Vector512.Create(f16[*(ushort*)w]), DMin = Vector512.Create(f16[*(ushort*)(w + 2)]),
            };
            acc0 = BlockTerm(k, a0, acc0);
            if (T.Count > 1) acc1 = BlockTerm(k, a1, acc1);
            if (T.Count > 2) acc2 = BlockTerm(k, a2, acc2);
            if (T.Count > 3) acc3 = BlockTerm(k, a3, acc3);
            if (T.Count > 4) acc4 = BlockTerm(k, a0 + s4, acc4);
            if (T.Count > 5) acc5 = BlockTerm(k, a1 + s4, acc5);
            if (T.Count > 6) acc6 = BlockTerm(k, a2 + s4, acc6);
            if (T.Count > 7) acc7 = BlockTerm(k, a3 + s4, acc7);
        }
        var sums = SimdOps.Sum4(acc0, acc1, acc2, acc3);
        y[0] = sums.GetElement(0);
        if (T.Count > 1) y[yStride] = sums.GetElement(1);
        if (T.Count > 2) y[2 * yStride] = sums.GetElement(2);
        if (T.Count > 3) y[3 * yStride] = sums.GetElement(3);
        if (T.Count > 4)
        {
            sums = SimdOps.Sum4(acc4, acc5, acc6, acc7);
            y[4 * yStride] = sums.GetElement(0);
            if (T.Count > 5) y[5 * yStride] = sums.GetElement(1);
            if (T.Count > 6) y[6 * yStride] = sums.GetElement(2);
            if (T.Count > 7) y[7 * yStride] = sums.GetElement(3);
        }
    }

    /// <summary>One weight block unpacked for every token: nibbles, chunk scale words, min words (upper half zero), d, dmin.</summary>
    private struct BlockConstants
    {
        public Vector512<byte> Q0, Q1, Q2, Q3;
        public Vector512<short> S0, S1, S2, S3, Mins;
        public Vector512<float> D, DMin;
    }

    /// <summary>
    /// <c>acc + (d_w·float(Σ_c pmaddwd(pmaddubsw(q_c, a_c), s_c)) − dmin_w·float(pmaddwd(bsums, m16)))·d_a</c> for one
    /// block of one token.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> BlockTerm(in BlockConstants k, byte* a, Vector512<float> acc)
    {
        sbyte* qa = (sbyte*)(a + ActQs);
        var sum = Products(k.Q0, Vector512.Load(qa), k.S0) + Products(k.Q1, Vector512.Load(qa + 64), k.S1)
                + Products(k.Q2, Vector512.Load(qa + 128), k.S2) + Products(k.Q3, Vector512.Load(qa + 192), k.S3);
        var minDot = Avx512BW.MultiplyAddAdjacent(Vector256.Load((short*)(a + ActBsums)).ToVector512(), k.Mins);
        var x = Avx512F.FusedMultiplyAddNegated(Avx512F.ConvertToVector512Single(minDot), k.DMin,
            Avx512F.ConvertToVector512Single(sum) * k.D);
        return Avx512F.FusedMultiplyAdd(x, Vector512.Create(*(float*)a), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Chunk(byte* qs, byte* qa, Vector512<short> scale) =>
        Products(Nibbles(qs), Vector512.Load((sbyte*)qa), scale);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Products(Vector512<byte> q, Vector512<sbyte> a, Vector512<short> scale) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q, a), scale);

    /// <summary>32 weight bytes → 64 values 0..15: the low nibbles, then the high nibbles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Nibbles(byte* qs)
    {
        // InsertVector256 rather than Vector512.Create(lower, upper), which the JIT builds through a stack temporary.
        var q = Vector256.Load(qs);
        var mask = Vector256.Create((byte)0x0F);
        return Avx512F.InsertVector256((q & mask).ToVector512Unsafe(), Srl(q, 4) & mask, 1);
    }

    /// <summary>The 8 sub-block scale bytes zero-extended to int16 words 0..7 of a vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> ScaleWords(ulong scales) =>
        Sse41.ConvertToVector128Int16(Vector128.CreateScalar(scales).AsByte()).ToVector256Unsafe().ToVector512Unsafe();

    /// <summary>Chunk c's pmaddwd multiplier: word 2c in the lower 16 lanes, word 2c+1 in the upper 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Scale(Vector512<short> words, int c)
    {
        short lo = (short)(2 * c), hi = (short)(2 * c + 1);
        var index = Vector512.Create(lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo, lo,
            hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi, hi);
        return Avx512BW.PermuteVar32x16(words, index);
    }

    /// <summary>The 8 min bytes spread to the 16 bsum groups as int16 (two groups per sub-block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> MinWords(ulong mins) =>
        Avx2.ConvertToVector256Int16(Ssse3.Shuffle(Vector128.CreateScalar(mins).AsByte(),
            Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)));

    /// <summary><c>acc + float(pmaddwd(bsums, m16)) · (dmin_w·d_a)</c>: the min correction of one block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MinTerm(byte* a, Vector256<short> m16, float scale, Vector256<float> acc) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(a + ActBsums)), m16)),
            Vector256.Create(scale), acc);
}
