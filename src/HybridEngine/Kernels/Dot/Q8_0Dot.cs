using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// Q8_0 weights · Q8_0 activations: <c>Σ_b Σ_j w_b[j]·a_b[j] · (d_w·d_a)</c>, both 34-byte blocks (fp16 d, 32 × int8).
/// </summary>
internal static unsafe class Q8_0Dot
{
    public const int WeightBytes = 34, ActBytes = 34;

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
            sbyte* qw = (sbyte*)(w + 2), qa = (sbyte*)(a + 2);
            int sumi = 0;
            for (int j = 0; j < 32; j++) sumi += qw[j] * qa[j];
            sum += sumi * (Fp16.Load(w) * Fp16.Load(a));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            var p = SimdOps.Dot128(Vector128.Load((sbyte*)(w + 2)), Vector128.Load((sbyte*)(a + 2)))
                  + SimdOps.Dot128(Vector128.Load((sbyte*)(w + 18)), Vector128.Load((sbyte*)(a + 18)));
            sum += Vector128.Sum(p) * (Fp16.Load(w) * Fp16.Load(a));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path<TVnni>(byte* w, byte* a, int blocks) where TVnni : struct
    {
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
        {
            WeightPrefetch.Block(w, WeightBytes);   // one line per block: blocks are under 64 bytes
            var p = SimdOps.DotSS<TVnni>(Vector256.Load((sbyte*)(w + 2)), Vector256.Load((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Fp16.Load(w) * Fp16.Load(a)), acc);
        }
        return SimdOps.HSum(acc);
    }
}
