using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>
/// Q8_0: half d, int8 q[32]; v = d·q (CPU reference: <c>Q8_0Block.Dequantize</c>). Four parts of 8 values, so four
/// neighbouring lanes share a block and a warp's loads span fewer memory sectors (34-byte blocks allow only byte reads).
/// </summary>
public readonly struct Q8_0Gpu : IGpuBlockFormat
{
    public int Parts => 4;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 34;
        long q = at + 2 + 8 * part;
        float sum = 0;
        for (int j = 0; j < 8; j++) sum += BlockBits.I8(w, q + j) * x[xStart + j];
        return BlockBits.Half(w, at) * sum;
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 34;
        long q = at + 2 + 8 * part;
        float d = BlockBits.Half(w, at);
        for (int j = 0; j < 8; j++) dot.Add(j, d * BlockBits.I8(w, q + j));
        return dot;
    }
}
