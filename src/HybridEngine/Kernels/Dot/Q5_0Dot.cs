using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q5_0 weights · Q8_0 activations: <c>Σ_b d_w·d_a · Σ_j (q_j − 16)·a[j]</c> with
/// <c>q_j = nibble_j | bit_j(qh)·16</c> (22-byte blocks: fp16 d, u32 qh, 16 nibble bytes; bit j of qh belongs to element j).
/// </summary>
internal static unsafe class Q5_0Dot
{
    public const int WeightBytes = 22, ActBytes = 34;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => level switch
    {
        SimdLevel.Scalar => &Scalar,
        SimdLevel.Vector128 => &Vector128Path,
        SimdLevel.Avx2 => &Avx2Path<NoVnni>,
        _ => AvxVnni.IsSupported ? &Avx2Path<WithVnni> : &Avx2Path<NoVnni>,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar(byte* w, byte* a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            uint qh = *(uint*)(w + 2);
            byte* qs = w + 6;
            sbyte* qa = (sbyte*)(a + 2);
            int sumi = 0;
            for (int j = 0; j < 16; j++)
            {
                int lo = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
                int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
                sumi += (lo - 16) * qa[j] + (hi - 16) * qa[j + 16];
            }
            sum += sumi * (Fp16.Load(w) * Fp16.Load(a));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        var mask = Vector128.Create((byte)0x0F);
        var bit4 = Vector128.Create((byte)0x10);
        var sixteen = Vector128.Create((sbyte)16);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            uint qh = *(uint*)(w + 2);
            var q = Vector128.Load(w + 6);
            var lo = ((q & mask) | (SimdOps.BitsToBytes128(qh & 0xFFFF) & bit4)).AsSByte() - sixteen;
            var hi = ((Vector128.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & mask) | (SimdOps.BitsToBytes128(qh >> 16) & bit4)).AsSByte() - sixteen;
            var p = SimdOps.Dot128(lo, Vector128.Load((sbyte*)(a + 2))) + SimdOps.Dot128(hi, Vector128.Load((sbyte*)(a + 18)));
            sum += Vector128.Sum(p) * (Fp16.Load(w) * Fp16.Load(a));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path<TVnni>(byte* w, byte* a, int blocks) where TVnni : struct
    {
        var acc = Vector256<float>.Zero;
        var bit4 = Vector256.Create((byte)0x10);
        var sixteen = Vector256.Create((sbyte)16);
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            WeightPrefetch.Block(w, WeightBytes);   // one line per block: blocks are under 64 bytes
            var q = (SimdOps.Nibbles(Vector128.Load(w + 6)) | (SimdOps.BitsToBytes(*(uint*)(w + 2)) & bit4)).AsSByte() - sixteen;
            var p = SimdOps.DotSS<TVnni>(q, Vector256.Load((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Fp16.Load(w) * Fp16.Load(a)), acc);
        }
        return SimdOps.HSum(acc);
    }
}
