using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q6_K (256 values, 210 bytes): ql[128] low nibbles, qh[64] high 2-bit pairs, int8 scales[16], half d.
/// In 128-value half n, position l (0..31) yields four values l, l+32, l+64, l+96 from
/// ql[l], ql[l+32] (low then high nibbles) and the four 2-bit fields of qh[l]; <c>v = d·sc·(q − 32)</c> with the scale
/// of each 16 values. CPU reference: <c>Q6_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q6_KGpu : IGpuBlockFormat
{
    public int Parts => 8;

    /// <summary>
    /// Part p covers values 32·p ..: half n = p/4, quarter r = p%4 reads ql[64n + 32·(r&amp;1) + l] (low nibble for r &lt; 2,
    /// high otherwise), bits 2r of qh[32n + l], scales 8n + 2r (l &lt; 16) and 8n + 2r + 1.
    /// </summary>
    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 210;
        int n = part >> 2, r = part & 3;
        long ql = at + 64 * n + 32 * (r & 1), qh = at + 128 + 32 * n, sc = at + 192 + 8 * n + 2 * r;
        int shift = 4 * (r >> 1), hshift = 2 * r;
        float s0 = 0, s1 = 0;
        for (int l = 0; l < 16; l++)
        {
            s0 += ((((w[ql + l] >> shift) & 15) | (((w[qh + l] >> hshift) & 3) << 4)) - 32) * x[xStart + l];
            s1 += ((((w[ql + l + 16] >> shift) & 15) | (((w[qh + l + 16] >> hshift) & 3) << 4)) - 32) * x[xStart + l + 16];
        }
        return BlockBits.Half(w, at + 208) * (BlockBits.I8(w, sc) * s0 + BlockBits.I8(w, sc + 1) * s1);
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 210;
        int n = part >> 2, r = part & 3;
        long ql = at + 64 * n + 32 * (r & 1), qh = at + 128 + 32 * n, sc = at + 192 + 8 * n + 2 * r;
        int shift = 4 * (r >> 1), hshift = 2 * r;
        float d = BlockBits.Half(w, at + 208);
        float scale0 = d * BlockBits.I8(w, sc), scale1 = d * BlockBits.I8(w, sc + 1);
        for (int l = 0; l < 16; l++)
        {
            dot.Add(l, scale0 * ((((w[ql + l] >> shift) & 15) | (((w[qh + l] >> hshift) & 3) << 4)) - 32));
            dot.Add(l + 16, scale1 * ((((w[ql + l + 16] >> shift) & 15) | (((w[qh + l + 16] >> hshift) & 3) << 4)) - 32));
        }
        return dot;
    }
}
