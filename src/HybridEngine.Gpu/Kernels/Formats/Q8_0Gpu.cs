using ILGPU;

namespace HybridEngine.Gpu.Kernels.Formats;

/// <summary>Q8_0: half d, int8 q[32]; v = d·q (CPU reference: <c>Q8_0Block.Dequantize</c>).</summary>
public readonly struct Q8_0Gpu : IGpuBlockFormat
{
    public int Parts => 1;

    public float PartDot(ArrayView<byte> w, long block, int part, ArrayView<float> x, long xStart)
    {
        long at = block * 34;
        float sum = 0;
        for (int j = 0; j < 32; j++) sum += BlockBits.I8(w, at + 2 + j) * x[xStart + j];
        return BlockBits.Half(w, at) * sum;
    }
}
