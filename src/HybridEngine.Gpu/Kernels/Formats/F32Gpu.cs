using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>F32 weights, one value per "block" (CPU reference: <c>Quantization/Formats/FloatFormats.DequantizeF32</c>).</summary>
public readonly struct F32Gpu : IGpuBlockFormat
{
    public int Parts => 1;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 4;
        uint bits = (uint)(w[at] | (w[at + 1] << 8) | (w[at + 2] << 16) | (w[at + 3] << 24));
        return Interop.IntAsFloat(bits) * x[xStart];
    }

    public TileDot PartDotTile(ArrayView<byte> w, long block, int part, TileDot dot)
    {
        long at = block * 4;
        dot.Add(0, Interop.IntAsFloat((uint)(w[at] | (w[at + 1] << 8) | (w[at + 2] << 16) | (w[at + 3] << 24))));
        return dot;
    }
}
