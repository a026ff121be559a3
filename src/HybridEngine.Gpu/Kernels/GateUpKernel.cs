using ILGPU;
using ILGPU.Algorithms;

namespace HybridEngine.Gpu.Kernels;

/// <summary>
/// The first half of an expert's (or dense) SwiGLU feed-forward in one pass over the weights:
/// <code>
///   g = Σ_k Gate[n][k]·x[t][k]     u = Σ_k Up[n][k]·x[t][k]     h[t][n] = g / (1 + e^(−g)) · u
/// </code>
/// on raw GGUF blocks of one type (both matrices dequantized in registers), so neither product is written out.
/// CPU reference: <c>Kernels/MatMul.Run</c> twice then <c>Kernels/SwiGlu.Reference</c>.
/// </summary>
/// <remarks>
/// Launch as <see cref="QuantMatMulKernel"/>: one warp per (row, token), grid = (Rows, Tokens); each lane sums its
/// block parts of both rows, the two sums are reduced by shuffle and lane 0 writes h.
/// </remarks>
public static class GateUpKernel
{
    public static void Run<TFormat>(ArrayView<byte> gate, ArrayView<byte> up, ArrayView<float> x, ArrayView<float> h, MatShape shape,
        TFormat format)
        where TFormat : struct, IGpuBlockFormat
    {
        int row = Grid.IdxX;
        int token = Grid.IdxY;
        int lane = Group.IdxX;
        long firstBlock = (long)row * shape.BlocksPerRow;
        long xRow = (long)token * shape.XStride;
        int parts = format.Parts;
        int partSize = shape.BlockSize / parts;
        int units = shape.BlocksPerRow * parts;
        float g = 0, u = 0;
        for (int i = lane; i < units; i += Group.DimX)
        {
            int b = i / parts, part = i - b * parts;
            long xAt = xRow + (long)b * shape.BlockSize + (long)part * partSize;
            g += format.PartDot(gate, firstBlock + b, part, x, xAt);
            u += format.PartDot(up, firstBlock + b, part, x, xAt);
        }
        g = WarpSum.Reduce(g);
        u = WarpSum.Reduce(u);
        if (lane == 0) h[(long)token * shape.YStride + row] = g / (1.0f + XMath.Exp(-g)) * u;
    }
}
