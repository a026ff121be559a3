using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// IQ4_NL (32 values, 18 bytes): half d, nibbles qs[16] indexing the non-linear 16-entry table
/// (<c>IqTables.KvaluesIq4nl</c>, uploaded once); v[j] = d·T[qs[j]&amp;15], v[j+16] = d·T[qs[j]>>4].
/// CPU reference: <c>IQ4_NLBlock.Dequantize</c>.
/// </summary>
public readonly struct IQ4_NLGpu(ArrayView<int> values) : IGpuBlockFormat
{
    private readonly ArrayView<int> _values = values;

    public int Parts => 1;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 18;
        float sum = 0;
        for (int j = 0; j < 16; j++)
        {
            int q = w[at + 2 + j];
            sum += _values[q & 15] * x[xStart + j] + _values[q >> 4] * x[xStart + j + 16];
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
            dot.Add(j, d * _values[q & 15]);
            dot.Add(j + 16, d * _values[q >> 4]);
        }
        return dot;
    }
}
