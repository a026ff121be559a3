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

    public float BlockDot(ArrayView<byte> w, long block, ArrayView<float> x, long xStart)
    {
        long at = block * 136;
        float d = BlockBits.Half(w, at);
        int scalesH = BlockBits.U16(w, at + 2);
        float sum = 0;
        for (int s = 0; s < 8; s++)
        {
            int ls = ((w[at + 4 + s / 2] >> (4 * (s % 2))) & 15) | (((scalesH >> (2 * s)) & 3) << 4);
            long qs = at + 8 + 16 * s;
            long xs = xStart + 32 * s;
            float part = 0;
            for (int j = 0; j < 16; j++)
            {
                int q = w[qs + j];
                part += _values[q & 15] * x[xs + j] + _values[q >> 4] * x[xs + j + 16];
            }
            sum += (ls - 32) * part;
        }
        return d * sum;
    }
}
