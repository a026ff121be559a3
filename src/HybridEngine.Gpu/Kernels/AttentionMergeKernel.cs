using ILGPU;
using ILGPU.Algorithms;

namespace HybridEngine.Gpu.Kernels;

/// <summary>
/// Combines the per-chunk results of a split <see cref="AttentionKernel"/> launch for one (token, head):
/// <code>
///   M = max_c m_c        L = Σ_c l_c · e^(m_c − M)        out[d] = Σ_c o_c[d] · e^(m_c − M) / L
/// </code>
/// which is the softmax-weighted sum over all positions, since each o_c and l_c were taken relative to m_c.
/// Chunk 0 always holds position 0, so M is finite; empty chunks (m = −∞) get weight 0.
/// Launch: one warp per (token, head); lanes stride over the value dims.
/// </summary>
public static class AttentionMergeKernel
{
    public static void Run(ArrayView<float> partial, ArrayView<float> stats, ArrayView<float> output, int chunks, int valueDim)
    {
        long tokenHead = Grid.IdxX;
        long first = tokenHead * chunks;
        float max = float.NegativeInfinity;
        for (int c = 0; c < chunks; c++) max = XMath.Max(max, stats[2 * (first + c)]);
        float sum = 0;
        for (int c = 0; c < chunks; c++) sum += stats[2 * (first + c) + 1] * XMath.Exp(stats[2 * (first + c)] - max);
        float inverse = 1.0f / sum;
        for (int d = Group.IdxX; d < valueDim; d += Group.DimX)
        {
            float total = 0;
            for (int c = 0; c < chunks; c++) total += partial[(first + c) * valueDim + d] * XMath.Exp(stats[2 * (first + c)] - max);
            output[tokenHead * valueDim + d] = total * inverse;
        }
    }
}
