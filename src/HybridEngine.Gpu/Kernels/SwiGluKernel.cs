using ILGPU;
using ILGPU.Algorithms;

namespace HybridEngine.Gpu.Kernels;

/// <summary><c>h = g / (1 + e^(−g)) · u</c> element by element. CPU reference: <c>Kernels/SwiGlu.Reference</c>.</summary>
public static class SwiGluKernel
{
    public static void Run(Index1D i, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> h)
    {
        float g = gate[i];
        h[i] = g / (1.0f + XMath.Exp(-g)) * up[i];
    }
}
