using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q2_K (256 values, 84 bytes): scales[16] (low nibble scale, high nibble min), qs[64] of 2-bit values, half d,
/// half dmin. In 128-value half n, shift 2j of qs[32n + l] (l &lt; 16, then l ≥ 16) gives sub-block 8n + 2j (+1);
/// <c>v = d·sc·q − dmin·m</c>. CPU reference: <c>Q2_KBlock.Dequantize</c>.
/// </summary>
public readonly struct Q2_KGpu : IGpuBlockFormat
{
    public float BlockDot(ArrayView<byte> w, long block, ArrayView<float> x, long xStart)
    {
        long at = block * 84;
        long scales = at, qs = at + 16;
        float d = BlockBits.Half(w, at + 80), dmin = BlockBits.Half(w, at + 82);
        float sum = 0;
        int sub = 0;
        for (int n = 0; n < 2; n++)
        {
            for (int shift = 0; shift < 8; shift += 2)
            {
                for (int part = 0; part < 2; part++, sub++)
                {
                    int sc = w[scales + sub];
                    float qx = 0, xs = 0;
                    for (int l = 16 * part; l < 16 * part + 16; l++)
                    {
                        float a = x[xStart + 128 * n + 16 * (sub % 8) + (l - 16 * part)];
                        qx += ((w[qs + 32 * n + l] >> shift) & 3) * a;
                        xs += a;
                    }
                    sum += d * (sc & 15) * qx - dmin * (sc >> 4) * xs;
                }
            }
        }
        return sum;
    }
}
