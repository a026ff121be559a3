using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q5_0: half d, u32 qh, nibbles qs[16]; bit j of qh is the fifth bit of value j, bit j+16 of value j+16;
/// v = d·(q − 16) (CPU reference: <c>Q5_0Block.Dequantize</c>).
/// </summary>
public readonly struct Q5_0Gpu : IGpuBlockFormat
{
    public int Parts => 1;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 22;
        uint qh = (uint)(w[at + 2] | (w[at + 3] << 8) | (w[at + 4] << 16) | (w[at + 5] << 24));
        float sum = 0;
        for (int j = 0; j < 16; j++)
        {
            int q = w[at + 6 + j];
            int lo = (q & 15) | (int)(((qh >> j) & 1) << 4);
            int hi = (q >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            sum += (lo - 16) * x[xStart + j] + (hi - 16) * x[xStart + j + 16];
        }
        return BlockBits.Half(w, at) * sum;
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 22;
        uint qh = (uint)(w[at + 2] | (w[at + 3] << 8) | (w[at + 4] << 16) | (w[at + 5] << 24));
        float d = BlockBits.Half(w, at);
        for (int j = 0; j < 16; j++)
        {
            int q = w[at + 6 + j];
            dot.Add(j, d * (((q & 15) | (int)(((qh >> j) & 1) << 4)) - 16));
            dot.Add(j + 16, d * (((q >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16));
        }
        return dot;
    }
}
