using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>A 32-value weight block with an fp16 scale first, unpacked to signed bytes.</summary>
internal unsafe interface IBlock32
{
    static abstract int Bytes { get; }

    /// <summary>The 32 signed integer weights q_j of the block, so that w_j = d·q_j.</summary>
    static abstract Vector256<sbyte> Values(byte* block);
}

/// <summary>Q8_0: fp16 d, 32 × int8.</summary>
internal readonly unsafe struct Q8_0Block32 : IBlock32
{
    public static int Bytes => Q8_0Dot.WeightBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Values(byte* block) => Vector256.Load((sbyte*)(block + 2));
}

/// <summary>Q5_0: fp16 d, u32 high bits, 16 nibble bytes; q = (nibble | bit·16) − 16.</summary>
internal readonly unsafe struct Q5_0Block32 : IBlock32
{
    public static int Bytes => Q5_0Dot.WeightBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Values(byte* block) =>
        (SimdOps.Nibbles(Vector128.Load(block + 6)) | (SimdOps.BitsToBytes(*(uint*)(block + 2)) & Vector256.Create((byte)0x10))).AsSByte()
        - Vector256.Create((sbyte)16);
}

/// <summary>Q4_0: fp16 d, 16 nibble bytes; q = nibble − 8.</summary>
internal readonly unsafe struct Q4_0Block32 : IBlock32
{
    public static int Bytes => 18;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Values(byte* block) =>
        SimdOps.Nibbles(Vector128.Load(block + 2)).AsSByte() - Vector256.Create((sbyte)8);
}

/// <summary>
/// One weight row · up to four Q8_0 activation rows for the 32-value types that pair with Q8_0 (Q8_0, Q5_0, Q4_0):
/// <c>y[t] = Σ_b d_w·d_a[t] · Σ_j q_j·a[t]_j</c>, the single-token kernels' math (their scalar twins are the reference).
/// Each block is unpacked once, and |q| once, for all the tokens; per token remain the sign transfer
/// <c>sign(a, q)</c>, one int8 dot (vpdpbusd with AVX-VNNI, else pmaddubsw + pmaddwd) and one FMA into that token's
/// float lanes, summed once per row. Rows as short as a few blocks (MLA's per-head products) also save three
/// quarters of the per-call overhead.
/// </summary>
internal static unsafe class Block32Dot4
{
    /// <summary>Same contract as <see cref="DotKernels.GetDot4"/>.</summary>
    public static void Dot4<TBlock, TVnni>(byte* w, byte* a, long aStride, int tokens, int blocks, float* y, long yStride)
        where TBlock : struct, IBlock32 where TVnni : struct
    {
        switch (tokens)
        {
            case 4: DotN<TBlock, TVnni, Four>(w, a, aStride, blocks, y, yStride); break;
            case 3: DotN<TBlock, TVnni, Three>(w, a, aStride, blocks, y, yStride); break;
            case 2: DotN<TBlock, TVnni, Two>(w, a, aStride, blocks, y, yStride); break;
            case 1: DotN<TBlock, TVnni, One>(w, a, aStride, blocks, y, yStride); break;
            default: throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens; the kernel takes 1 to 4.");
        }
    }

    // Not inlined into the dispatcher: there its calls and throw would make the JIT keep the accumulators on the stack.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void DotN<TBlock, TVnni, T>(byte* w, byte* a, long aStride, int blocks, float* y, long yStride)
        where TBlock : struct, IBlock32 where TVnni : struct where T : struct, ITokenCount
    {
        float* f16 = Fp16.Pointer;   // first: nothing is live across its possible class-initialisation call
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        byte* a0 = a, a1 = a + aStride, a2 = a + 2 * aStride, a3 = a + 3 * aStride;
        const int act = Q8_0Dot.ActBytes;
        for (int b = 0; b < blocks; b++, w += TBlock.Bytes, a0 += act, a1 += act, a2 += act, a3 += act)
        {
            var q = TBlock.Values(w);
            var abs = Avx2.Abs(q);
            float d = f16[*(ushort*)w];
            acc0 = Term<TVnni>(abs, q, a0, d * f16[*(ushort*)a0], acc0);
            if (T.Count > 1) acc1 = Term<TVnni>(abs, q, a1, d * f16[*(ushort*)a1], acc1);
            if (T.Count > 2) acc2 = Term<TVnni>(abs, q, a2, d * f16[*(ushort*)a2], acc2);
            if (T.Count > 3) acc3 = Term<TVnni>(abs, q, a3, d * f16[*(ushort*)a3], acc3);
        }
        y[0] = SimdOps.HSum(acc0);
        if (T.Count > 1) y[yStride] = SimdOps.HSum(acc1);
        if (T.Count > 2) y[2 * yStride] = SimdOps.HSum(acc2);
        if (T.Count > 3) y[3 * yStride] = SimdOps.HSum(acc3);
    }

    /// <summary><c>acc + float(Σ |q|·sign(a, q)) · scale</c> over one block of one token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Term<TVnni>(Vector256<byte> abs, Vector256<sbyte> q, byte* a, float scale, Vector256<float> acc)
        where TVnni : struct =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(SimdOps.DotUS<TVnni>(abs, Avx2.Sign(Vector256.Load((sbyte*)(a + 2)), q))),
            Vector256.Create(scale), acc);
}
