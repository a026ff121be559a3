using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using HybridEngine.Quantization;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// IQ3_XXS weights · Q8_K activations: <c>Σ_b d_w·d_a/4 · Σ_{32-sub-blocks} ls · Σ_{8-groups} Σ_j grid·±a</c>.
/// Block (98 bytes): fp16 d, 64 grid indices (each a u32 of 4 magnitudes; two per 8-group), 8 × u32 whose low 28 bits
/// are four 7-bit ksigns indices and top 4 bits give ls = 2·s + 1. AVX2 gathers the grid entries into a vector;
/// the portable Vector128 level uses the scalar twin.
/// </summary>
internal static unsafe class IQ3_XXSDot
{
    public const int WeightBytes = 98;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => level switch
    {
        SimdLevel.Scalar or SimdLevel.Vector128 => &Scalar,
        SimdLevel.Avx2 => &Avx2Path<NoVnni>,
        _ => AvxVnni.IsSupported ? &Avx2Path<WithVnni> : &Avx2Path<NoVnni>,
    };

    public static float Avx2Path<TVnni>(byte* w, byte* a, int blocks) where TVnni : struct
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
                    var p = SimdOps.DotUS<TVnni>(magnitudes, IqSimd.ApplySigns(Vector256.Load(qa + 32 * ib), masks));
                    acc += Avx2.MultiplyLow(p, Vector256.Create(2 * (int)(aux >> 28) + 1));
                }
                sum += Fp16.Load(w) * *(float*)a * SimdOps.HSum(acc);
            }
            return 0.25f * sum;
        }
    }

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
