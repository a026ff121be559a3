using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q3_K (256 values, 110 bytes): hmask[32], qs[64] of 2-bit values, 12 bytes of sixteen 6-bit scales, half d.
/// Laid out like Q2_K; bit (4n + j) of hmask[l] set means the value keeps its 2 bits, clear means 4 is subtracted;
/// <c>v = d·(sc − 32)·q</c>. Scale i: low 4 bits from byte i (i &lt; 8) or the high nibble of byte i−8, top 2 bits from
/// byte 8 + i%4 at shift 2·(i/4). CPU reference: <c>Q3_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q3_KGpu : IGpuBlockFormat
{
    public int Parts => 8;

    /// <summary>Part p: half n = p/4, shift 2·(p%4) of qs[32n + l], hmask bit p, scales 2p (l &lt; 16) and 2p + 1.</summary>
    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 110;
        long hmask = at, qs = at + 32 + 32 * (part >> 2), scales = at + 96;
        int shift = 2 * (part & 3), bit = 1 << part;
        float s0 = 0, s1 = 0;
        for (int l = 0; l < 16; l++)
        {
            s0 += (((w[qs + l] >> shift) & 3) - ((w[hmask + l] & bit) != 0 ? 0 : 4)) * x[xStart + l];
            s1 += (((w[qs + l + 16] >> shift) & 3) - ((w[hmask + l + 16] & bit) != 0 ? 0 : 4)) * x[xStart + l + 16];
        }
        return BlockBits.Half(w, at + 108) * (Scale(w, scales, 2 * part) * s0 + Scale(w, scales, 2 * part + 1) * s1);
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 110;
        long hmask = at, qs = at + 32 + 32 * (part >> 2), scales = at + 96;
        int shift = 2 * (part & 3), bit = 1 << part;
        float d = BlockBits.Half(w, at + 108);
        float scale0 = d * Scale(w, scales, 2 * part), scale1 = d * Scale(w, scales, 2 * part + 1);
        for (int l = 0; l < 16; l++)
        {
            dot.Add(l, scale0 * (((w[qs + l] >> shift) & 3) - ((w[hmask + l] & bit) != 0 ? 0 : 4)));
            dot.Add(l + 16, scale1 * (((w[qs + l + 16] >> shift) & 3) - ((w[hmask + l + 16] & bit) != 0 ? 0 : 4)));
        }
        return dot;
    }

    private static int Scale(ArrayView<byte> w, long s, int i)
    {
        int low = i < 8 ? w[s + i] & 15 : w[s + i - 8] >> 4;
        int high = (w[s + 8 + (i & 3)] >> (2 * (i >> 2))) & 3;
        return (low | (high << 4)) - 32;
    }
}
