using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q2_K (256 values, 84 bytes): scales[16] (low nibble scale, high nibble min), qs[64] of 2-bit values, half d,
/// half dmin. In 128-value half n, shift 2j of qs[32n + l] (l &lt; 16, then l ≥ 16) gives sub-block 8n + 2j (+1);
/// <c>v = d·sc·q − dmin·m</c>. CPU reference: <c>Q2_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q2_KGpu : IGpuBlockFormat
{
    public int Parts => 8;

    /// <summary>Part p: half n = p/4, shift 2·(p%4) of qs[32n + l]; scale/min byte 2p (l &lt; 16) and 2p + 1.</summary>
    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 84;
        long qs = at + 16 + 32 * (part >> 2);
        int shift = 2 * (part & 3);
        float q0 = 0, x0 = 0, q1 = 0, x1 = 0;
        for (int l = 0; l < 16; l++)
        {
            float a = x[xStart + l], b = x[xStart + l + 16];
            q0 += ((w[qs + l] >> shift) & 3) * a; x0 += a;
            q1 += ((w[qs + l + 16] >> shift) & 3) * b; x1 += b;
        }
        int sc0 = w[at + 2 * part], sc1 = w[at + 2 * part + 1];
        float d = BlockBits.Half(w, at + 80), dmin = BlockBits.Half(w, at + 82);
        return d * ((sc0 & 15) * q0 + (sc1 & 15) * q1) - dmin * ((sc0 >> 4) * x0 + (sc1 >> 4) * x1);
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 84;
        long qs = at + 16 + 32 * (part >> 2);
        int shift = 2 * (part & 3);
        int sc0 = w[at + 2 * part], sc1 = w[at + 2 * part + 1];
        float d = BlockBits.Half(w, at + 80), dmin = BlockBits.Half(w, at + 82);
        float scale0 = d * (sc0 & 15), min0 = dmin * (sc0 >> 4), scale1 = d * (sc1 & 15), min1 = dmin * (sc1 >> 4);
        for (int l = 0; l < 16; l++)
        {
            dot.Add(l, scale0 * ((w[qs + l] >> shift) & 3) - min0);
            dot.Add(l + 16, scale1 * ((w[qs + l + 16] >> shift) & 3) - min1);
        }
        return dot;
    }
}
