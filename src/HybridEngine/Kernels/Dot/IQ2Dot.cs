using HybridEngine.Quantization;
using static HybridEngine.Kernels.Dot.KQuantScales;

namespace HybridEngine.Kernels.Dot;

/// <summary>
/// IQ2_XXS and IQ2_XS weights · Q8_K activations (SPEC 2.8). Each 8 weights are a grid entry of magnitudes
/// (bytes of a u64) with 8 signs from <c>ksigns_iq2xs</c>; the dot is
/// <c>Σ_b d_w·d_a/8 · Σ_{32-sub-blocks} ls · Σ_{8-groups} Σ_j grid[j]·±a[j]</c> with odd integer scale ls:
/// IQ2_XXS (66 bytes: fp16 d, 8 × (u32 grid indices, u32 signs+scale)): ls = 2·(aux1 &gt;&gt; 28) + 1, group l signs
/// = ksigns[(aux1 &gt;&gt; 7l) &amp; 127]; IQ2_XS (74 bytes: fp16 d, 32 × u16, scales[8]): index = q &amp; 511,
/// signs = ksigns[q &gt;&gt; 9], ls = 2·nibble + 1 (low nibble for groups 0–1, high for 2–3).
/// Scalar only: these types are rare in the files targeted, and the kernel is table-bound.
/// </summary>
internal static unsafe class IQ2Dot
{
    public const int XxsBytes = 66, XsBytes = 74;

    public static delegate*<byte*, byte*, int, float> For(GgmlType type, SimdLevel level) =>
        type == GgmlType.IQ2_XXS ? &XxsScalar : &XsScalar;

    public static float XxsScalar(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq2xxsGrid)
        fixed (byte* signs = IqTables.KsignsIq2xs)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += XxsBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                int bsum = 0;
                for (int ib = 0; ib < 8; ib++)
                {
                    uint aux0 = *(uint*)(w + 2 + 8 * ib);
                    uint aux1 = *(uint*)(w + 6 + 8 * ib);
                    int ls = 2 * (int)(aux1 >> 28) + 1;
                    int sumi = 0;
                    for (int l = 0; l < 4; l++)
                    {
                        byte* g = (byte*)(grid + ((aux0 >> (8 * l)) & 0xFF));
                        sumi += Group(g, signs[(aux1 >> (7 * l)) & 127], qa + 32 * ib + 8 * l);
                    }
                    bsum += sumi * ls;
                }
                sum += Fp16.Load(w) * *(float*)a * bsum;
            }
            return 0.125f * sum;
        }
    }

    public static float XsScalar(byte* w, byte* a, int blocks)
    {
        fixed (ulong* grid = IqTables.Iq2xsGrid)
        fixed (byte* signs = IqTables.KsignsIq2xs)
        {
            float sum = 0;
            for (int b = 0; b < blocks; b++, w += XsBytes, a += ActBytes)
            {
                sbyte* qa = (sbyte*)(a + ActQs);
                ushort* qs = (ushort*)(w + 2);
                byte* scales = w + 66;
                int bsum = 0;
                for (int ib = 0; ib < 8; ib++)
                {
                    int lo = 0, hi = 0;
                    for (int l = 0; l < 4; l++)
                    {
                        int q = qs[4 * ib + l];
                        int part = Group((byte*)(grid + (q & 511)), signs[q >> 9], qa + 32 * ib + 8 * l);
                        if (l < 2) lo += part; else hi += part;
                    }
                    bsum += lo * (2 * (scales[ib] & 0xF) + 1) + hi * (2 * (scales[ib] >> 4) + 1);
                }
                sum += Fp16.Load(w) * *(float*)a * bsum;
            }
            return 0.125f * sum;
        }
    }

    /// <summary>Σ_j magnitude[j]·a[j], negated where bit j of <paramref name="signs"/> is set.</summary>
    internal static int Group(byte* magnitudes, int signs, sbyte* a)
    {
        int sum = 0;
        for (int j = 0; j < 8; j++)
        {
            int p = magnitudes[j] * a[j];
            sum += (signs & (1 << j)) != 0 ? -p : p;
        }
        return sum;
    }
}
