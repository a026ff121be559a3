using ILGPU;
using ILGPU.Algorithms;

namespace HybridEngine.Gpu.Kernels;

/// <summary>
/// <c>y = x · (1/√(mean(x²) + eps)) · weight</c> per row. CPU reference: <c>Kernels/RmsNorm.Reference</c>.
/// Launch: one warp per row (grid = rows); lanes stride over the row, sum by shuffle, then all scale their values.
/// Row r starts at r·stride (stride ≥ width), so the leading slice of wider rows (MLA's latent) is normalised in place.
/// The sum of squares is a float tree sum (the CPU reference sums in double), so results agree to a few float ulps.
/// </summary>
public static class RmsNormKernel
{
    public static void Run(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> y, int width, int stride, float eps)
    {
        long start = (long)Grid.IdxX * stride;
        int lane = Group.IdxX;
        float sum = 0;
        for (int i = lane; i < width; i += Group.DimX) sum += x[start + i] * x[start + i];
        sum = Warp.Shuffle(WarpSum.Reduce(sum), 0);
        float scale = 1.0f / XMath.Sqrt(sum / width + eps);
        for (int i = lane; i < width; i += Group.DimX) y[start + i] = x[start + i] * scale * weight[i];
    }
}
