using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// IQ4_XS (256 values, 136 bytes): half d, u16 scales_h, scales_l[4], qs[128]. Sub-block s (32 values) has the 6-bit
/// scale <c>ls = (scales_l[s/2] >> 4·(s%2) &amp; 15) | ((scales_h >> 2s &amp; 3) &lt;&lt; 4)</c> and values
/// <c>d·(ls − 32)·T[nibble]</c> laid out as in IQ4_NL. CPU reference: <c>IQ4_XSBlock.Dequantize</c>.
/// </summary>
public readonly struct IQ4_XSGpu(ArrayView<int> values) : IGpuBlockFormat
{
    private readonly ArrayView<int> _values = values;

    public int Parts => 8;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 136;
        int ls = ((w[at + 4 + part / 2] >> (4 * (part % 2))) & 15) | (((BlockBits.U16(w, at + 2) >> (2 * part)) & 3) << 4);
        long qs = at + 8 + 16 * part;
        float sum = 0;
        for (int j = 0; j < 16; j++)
        {
            int q = w[qs + j];
            sum += _values[q & 15] * x[xStart + j] + _values[q >> 4] * x[xStart + j + 16];
        }
        return BlockBits.Half(w, at) * (ls - 32) * sum;
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 136;
        int ls = ((w[at + 4 + part / 2] >> (4 * (part % 2))) & 15) | (((BlockBits.U16(w, at + 2) >> (2 * part)) & 3) << 4);
        long qs = at + 8 + 16 * part;
        float dl = BlockBits.Half(w, at) * (ls - 32);
        for (int j = 0; j < 16; j++)
        {
            int q = w[qs + j];
            dot.Add(j, dl * _values[q & 15]);
            dot.Add(j + 16, dl * _values[q >> 4]);
        }
        return dot;
    }
}
