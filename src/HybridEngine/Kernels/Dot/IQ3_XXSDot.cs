using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using HybridEngine.Quantization;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// IQ3_XXS weights · Q8_K activations: <c>Σ_b d_w·d_a/4 · Σ_{32-sub-blocks} ls · Σ_{8-groups} Σ_j grid·±a</c>.
/// Block (98 bytes): fp16 d, 64 grid indices (each a u32 of 4 magnitudes; two per 8-group), 8 × u32 whose low 28 bits
/// are four 7-bit ksigns indices and top 4 bits give ls = 2·s + 1. The vector paths gather the grid entries
/// (four u32 per 128 bits) and move the signs onto the activations.
/// </summary>
internal static unsafe class IQ3_XXSDot
{
    public const int WeightBytes = 98;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => level switch
    {
        SimdLevel.Scalar => &Scalar,
        SimdLevel.Vector128 => &Vector128Path,
        _ => &Avx2Path,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Vector128Path(byte* w, byte* a, int blocks)
    {
        fixed (uint* grid = IqTables.Iq3xxsGrid)
        fixed (ulong* signs = IqSimd.SignMasks)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                byte* q3 = w + 2;
                var acc = Vector128<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q3 += 8)
                {
                    uint aux = *(uint*)(w + 66 + 4 * ib);
                    var lo = SimdOps.Dot128(Vector128.Create(grid[q3[0]], grid[q3[1]], grid[q3[2]], grid[q3[3]]).AsSByte(),
                        IqSimd.ApplySigns(Vector128.Load(qa + 32 * ib), Vector128.Create(signs[aux & 127], signs[(aux >> 7) & 127])));
                    var hi = SimdOps.Dot128(Vector128.Create(grid[q3[4]], grid[q3[5]], grid[q3[6]], grid[q3[7]]).AsSByte(),
                        IqSimd.ApplySigns(Vector128.Load(qa + 32 * ib + 16), Vector128.Create(signs[(aux >> 14) & 127], signs[(aux >> 21) & 127])));
                    acc += (lo + hi) * (2 * (int)(aux >> 28) + 1);
                }
                sum += Fp16.Load(w) * *(float*)a * Vector128.Sum(acc);
            }
            return 0.25f * sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Avx2Path(byte* w, byte* a, int blocks)
    {
        fixed (uint* grid = IqTables.Iq3xxsGrid)
        fixed (ulong* signs = IqSimd.SignMasks)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                byte* q3 = w + 2;
                var acc = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++, q3 += 8)
                {
                    uint aux = *(uint*)(w + 66 + 4 * ib);
                    var magnitudes = Vector256.Create(
                        grid[q3[0]], grid[q3[1]], grid[q3[2]], grid[q3[3]], grid[q3[4]], grid[q3[5]], grid[q3[6]], grid[q3[7]]).AsByte();
                    var masks = Vector256.Create(signs[aux & 127], signs[(aux >> 7) & 127], signs[(aux >> 14) & 127], signs[(aux >> 21) & 127]);
                    acc += KQuantScales.DotScaled(magnitudes, IqSimd.ApplySigns(Vector256.Load(qa + 32 * ib), masks), 2 * (int)(aux >> 28) + 1);
                }
                sum += Fp16.Load(w) * *(float*)a * SimdOps.HSum(acc);
            }
            return 0.25f * sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Scalar(byte* w, byte* a, int blocks)
    {
        fixed (uint* grid = IqTables.Iq3xxsGrid)
        fixed (byte* signs = IqTables.KsignsIq2xs)
        {
            float sum = 0;
            byte* magnitudes = stackalloc byte[8];
            for (int b = 0; b < blocks; b++, w += WeightBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                byte* q3 = w + 2;
                int bsum = 0;
                for (int ib = 0; ib < 8; ib++)
                {
                    uint aux = *(uint*)(w + 66 + 4 * ib);
                    int sumi = 0;
                    for (int l = 0; l < 4; l++)
                    {
                        *(uint*)magnitudes = grid[q3[8 * ib + 2 * l]];
                        *(uint*)(magnitudes + 4) = grid[q3[8 * ib + 2 * l + 1]];
                        sumi += IQ2Dot.Group(magnitudes, signs[(aux >> (7 * l)) & 127], qa + 32 * ib + 8 * l);
                    }
                    bsum += sumi * (2 * (int)(aux >> 28) + 1);
                }
                sum += Fp16.Load(w) * *(float*)a * bsum;
            }
            return 0.25f * sum;
        }
    }
}
