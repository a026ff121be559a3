using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>F16 weights, one value per "block" (CPU reference: <c>Quantization/Formats/FloatFormats.DequantizeF16</c>).</summary>
public readonly struct F16Gpu : IGpuBlockFormat
{
    public int Parts => 1;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart) =>
        BlockBits.Half(w, block * 2) * x[xStart];

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        dot.Add(0, BlockBits.Half(w, block * 2));
        return dot;
    }
}
