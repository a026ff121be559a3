using ILGPU;
using ILGPU.Algorithms;

namespace HybridEngine.Gpu.Kernels;

/// <summary>
/// <c>p_i = exp(s·x_i − max_j s·x_j) / Σ_j exp(s·x_j − max)</c> in place per row. CPU reference:
/// <c>Kernels/Softmax.Reference</c>. Launch: one warp per row; max and sum by shuffle.
/// </summary>
public static class SoftmaxKernel
{
    public static void Run(ArrayView<float> x, int width, float scale)
    {
        long start = (long)Grid.IdxX * width;
        int lane = Group.IdxX;
        float max = float.NegativeInfinity;
        for (int i = lane; i < width; i += Group.DimX) max = XMath.Max(max, scale * x[start + i]);
        max = Warp.Shuffle(WarpSum.Max(max), 0);
        float sum = 0;
        for (int i = lane; i < width; i += Group.DimX)
        {
            float e = XMath.Exp(scale * x[start + i] - max);
            x[start + i] = e;
            sum += e;
        }
        float inverse = 1.0f / Warp.Shuffle(WarpSum.Reduce(sum), 0);
        for (int i = lane; i < width; i += Group.DimX) x[start + i] *= inverse;
    }
}
