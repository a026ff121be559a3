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
/// Launch as <see cref="QuantMatMulKernel"/> (its <c>Config</c>): a group of warps per RowsPerGroup rows of one token,
/// the token's x staged through shared memory chunk by chunk; each warp sums its two rows of both matrices, the sums
/// are reduced by shuffle and lane 0 writes h. One matrix pair only: <see cref="MatShape.Heads"/> stays 0.
/// </remarks>
public static class GateUpKernel
{
    public static void Run<TFormat>(ArrayView<byte> gate, ArrayView<byte> up, ArrayView<float> x, ArrayView<float> h, MatShape shape,
        TFormat format)
        where TFormat : struct, IGpuBlockFormat
    {
        var shared = SharedMemory.Allocate<float>(QuantMatMulKernel.SharedFloats);
        int token = Grid.IdxY;
        int lane = Warp.LaneIdx;
        var rows = WarpRows.Of(shape.Rows);
        int row0 = rows.Row0, row1 = rows.Row1, read0 = rows.Read0, read1 = rows.Read1;
        long xRow = (long)token * shape.XStride;
        int parts = format.Parts;
        int partSize = shape.BlockSize / parts;
        int stride = QuantMatMulKernel.SharedStride(partSize);
        int blocksPerChunk = QuantMatMulKernel.ChunkValues / shape.BlockSize;
        float g0 = 0, g1 = 0, u0 = 0, u1 = 0;
        for (int chunkBlock = 0; chunkBlock < shape.BlocksPerRow; chunkBlock += blocksPerChunk)
        {
            int blocks = XMath.Min(blocksPerChunk, shape.BlocksPerRow - chunkBlock);
            QuantMatMulKernel.Stage(x, xRow + (long)chunkBlock * shape.BlockSize, blocks * shape.BlockSize, partSize, stride, shared);
            int units = blocks * parts;
            long block0 = (long)read0 * shape.BlocksPerRow + chunkBlock, block1 = (long)read1 * shape.BlocksPerRow + chunkBlock;
            for (int u = lane; u < units; u += Warp.WarpSize)
            {
                int b = u / parts, part = u - b * parts;
                long at = (long)u * stride;
                g0 += format.PartDot(gate, block0 + b, part, shared, at);
                u0 += format.PartDot(up, block0 + b, part, shared, at);
                g1 += format.PartDot(gate, block1 + b, part, shared, at);
                u1 += format.PartDot(up, block1 + b, part, shared, at);
            }
            Group.Barrier();
        }
        g0 = WarpSum.Reduce(g0);
        u0 = WarpSum.Reduce(u0);
        g1 = WarpSum.Reduce(g1);
        u1 = WarpSum.Reduce(u1);
        if (lane == 0)
        {
            if (row0 < shape.Rows) h[(long)token * shape.YStride + row0] = g0 / (1.0f + XMath.Exp(-g0)) * u0;
            if (row1 < shape.Rows) h[(long)token * shape.YStride + row1] = g1 / (1.0f + XMath.Exp(-g1)) * u1;
        }
    }
}
