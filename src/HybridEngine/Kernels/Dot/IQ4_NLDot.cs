using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// IQ4_NL weights · Q8_0 activations: <c>Σ_b d_w·d_a · Σ_{j&lt;16} [kv[lo_j]·a[j] + kv[hi_j]·a[j+16]]</c> where kv is the
/// 16-level non-linear table <c>kvalues_iq4nl</c> (SPEC 2.2); blocks are laid out like Q4_0.
/// </summary>
internal static unsafe class IQ4_NLDot
{
    public const int WeightBytes = 18, ActBytes = 34;

    /// <summary>kvalues_iq4nl (SPEC 2.2): data, the same 16 levels IQ4_XS uses.</summary>
    internal static ReadOnlySpan<sbyte> Levels => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    internal static Vector128<sbyte> LevelTable => Vector128.Create(Levels);

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
        ReadOnlySpan<sbyte> kv = Levels;
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            byte* qs = w + 2;
            sbyte* qa = (sbyte*)(a + 2);
            int sumi = 0;
            for (int j = 0; j < 16; j++) sumi += kv[qs[j] & 0xF] * qa[j] + kv[qs[j] >> 4] * qa[j + 16];
            sum += sumi * (Fp16.Load(w) * Fp16.Load(a));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        var table = LevelTable;
        var mask = Vector128.Create((byte)0x0F);
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            var q = Vector128.Load(w + 2);
            var lo = Vector128.Shuffle(table, (q & mask).AsSByte());
            var hi = Vector128.Shuffle(table, (Vector128.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & mask).AsSByte());
            var p = SimdOps.Dot128(lo, Vector128.Load((sbyte*)(a + 2))) + SimdOps.Dot128(hi, Vector128.Load((sbyte*)(a + 18)));
            sum += Vector128.Sum(p) * (Fp16.Load(w) * Fp16.Load(a));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path<TVnni>(byte* w, byte* a, int blocks) where TVnni : struct
    {
        var table = Vector256.Create(LevelTable, LevelTable);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            var q = Avx2.Shuffle(table, SimdOps.Nibbles(Vector128.Load(w + 2)).AsSByte());
            var p = SimdOps.DotSS<TVnni>(q, Vector256.Load((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Fp16.Load(w) * Fp16.Load(a)), acc);
        }
        return SimdOps.HSum(acc);
    }
}
