using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>F16 weights, one value per "block" (CPU reference: <c>Quantization/Formats/FloatFormats.DequantizeF16</c>).</summary>
public readonly struct F16Gpu : IGpuBlockFormat
{
    public float BlockDot(ArrayView<byte> w, long block, ArrayView<float> x, long xStart) =>
        BlockBits.Half(w, block * 2) * x[xStart];
}
