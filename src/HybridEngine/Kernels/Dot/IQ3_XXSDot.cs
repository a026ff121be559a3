using HybridEngine.Quantization;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// IQ3_XXS weights · Q8_K activations: <c>Σ_b d_w·d_a/4 · Σ_{32-sub-blocks} ls · Σ_{8-groups} Σ_j grid·±a</c>.
/// Block (98 bytes): fp16 d, 64 grid indices (each a u32 of 4 magnitudes; two per 8-group), 8 × u32 whose low 28 bits
/// are four 7-bit ksigns indices and top 4 bits give ls = 2·s + 1. Scalar only (table-bound).
/// </summary>
internal static unsafe class IQ3_XXSDot
{
    public const int WeightBytes = 98;

    public static delegate*<byte*, byte*, int, float> For(SimdLevel level) => &Scalar;

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
