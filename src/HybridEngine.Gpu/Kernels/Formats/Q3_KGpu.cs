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
    public float BlockDot(ArrayView<byte> w, long block, ArrayView<float> x, long xStart)
    {
        long at = block * 110;
        long hmask = at, qs = at + 32, scales = at + 96;
        float d = BlockBits.Half(w, at + 108);
        float sum = 0;
        int sub = 0;
        for (int n = 0; n < 2; n++)
        {
            for (int j = 0; j < 4; j++)
            {
                int bit = 1 << (4 * n + j);
                for (int part = 0; part < 2; part++, sub++)
                {
                    float qx = 0;
                    for (int l = 16 * part; l < 16 * part + 16; l++)
                    {
                        int q = ((w[qs + 32 * n + l] >> (2 * j)) & 3) - ((w[hmask + l] & bit) != 0 ? 0 : 4);
                        qx += q * x[xStart + 128 * n + 32 * j + l];
                    }
                    sum += Scale(w, scales, sub) * qx;
                }
            }
        }
        return d * sum;
    }

    private static int Scale(ArrayView<byte> w, long s, int i)
    {
        int low = i < 8 ? w[s + i] & 15 : w[s + i - 8] >> 4;
        int high = (w[s + 8 + (i & 3)] >> (2 * (i >> 2))) & 3;
        return (low | (high << 4)) - 32;
    }
}
