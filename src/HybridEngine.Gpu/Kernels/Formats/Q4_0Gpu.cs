using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>Q4_0: half d, nibbles qs[16]; v[j] = d·((qs[j]&amp;15) − 8), v[j+16] = d·((qs[j]>>4) − 8) (CPU reference: <c>Q4_0Block.Dequantize</c>).</summary>
public readonly struct Q4_0Gpu : IGpuBlockFormat
{
    public int Parts => 1;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 18;
        float sum = 0;
        for (int j = 0; j < 16; j++)
        {
            int q = w[at + 2 + j];
            sum += ((q & 15) - 8) * x[xStart + j] + ((q >> 4) - 8) * x[xStart + j + 16];
        }
        return BlockBits.Half(w, at) * sum;
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 18;
        float d = BlockBits.Half(w, at);
        for (int j = 0; j < 16; j++)
        {
            int q = w[at + 2 + j];
            dot.Add(j, d * ((q & 15) - 8));
            dot.Add(j + 16, d * ((q >> 4) - 8));
        }
        return dot;
    }
}
