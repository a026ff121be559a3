using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q5_K (256 values, 176 bytes): half d, half dmin, 12 scale bytes as in Q4_K, qh[32], qs[128]. Value l of 64-value
/// chunk c takes its fifth bit from qh[l] bit 2c (low half) or bit 2c+1 (high half); <c>v = d·sc·q − dmin·m</c>.
/// CPU reference: <c>Q5_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q5_KGpu : IGpuBlockFormat
{
    public int Parts => 8;

    /// <summary>Part p = sub-block p: nibbles of qs[32·(p/2) ..] as in Q4_K, fifth bit from bit p of qh[l].</summary>
    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 176;
        long qh = at + 16, qs = at + 48 + 32 * (part >> 1);
        int shift = 4 * (part & 1);
        float qx = 0, xs = 0;
        for (int l = 0; l < 32; l++)
        {
            float a = x[xStart + l];
            qx += (((w[qs + l] >> shift) & 15) | (((w[qh + l] >> part) & 1) << 4)) * a;
            xs += a;
        }
        return BlockBits.Half(w, at) * Q4_KGpu.ScaleK4(w, at + 4, part) * qx
             - BlockBits.Half(w, at + 2) * Q4_KGpu.MinK4(w, at + 4, part) * xs;
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 176;
        long qh = at + 16, qs = at + 48 + 32 * (part >> 1);
        int shift = 4 * (part & 1);
        float scale = BlockBits.Half(w, at) * Q4_KGpu.ScaleK4(w, at + 4, part);
        float min = BlockBits.Half(w, at + 2) * Q4_KGpu.MinK4(w, at + 4, part);
        for (int l = 0; l < 32; l++)
            dot.Add(l, scale * (((w[qs + l] >> shift) & 15) | (((w[qh + l] >> part) & 1) << 4)) - min);
        return dot;
    }
}
