using ILGPU;
using ILGPU.Algorithms;

namespace HybridEngine.Gpu.Kernels;

/// <summary>
/// <see cref="GateUpKernel"/> for a tile of tokens, as <see cref="QuantMatMulTiledKernel"/> is to the per-token product:
/// <code>
///   g = Σ_k Gate[n][k]·x[t][k]     u = Σ_k Up[n][k]·x[t][k]     h[t][n] = g / (1 + e^(−g)) · u
/// </code>
/// with each block part of both matrices decoded once per tile of <see cref="QuantMatMulTiledKernel.TileTokens"/>
/// tokens. An expert's token group in prefill (tens of tokens) then reads its gate and up weights once per 8 tokens.
/// CPU reference: <c>Kernels/MatMul.Run</c> twice then <c>Kernels/SwiGlu.Reference</c>.
/// </summary>
/// <remarks>
/// Launch as <see cref="QuantMatMulTiledKernel"/> (its <c>Config</c>, shared x tile and staging); each lane keeps
/// 2 rows × 2 matrices × 8 tokens of sums, reduced by shuffle; lane 0 writes h for the tile's tokens.
/// </remarks>
public static class GateUpTiledKernel
{
    public static void Run<TFormat>(ArrayView<byte> gate, ArrayView<byte> up, ArrayView<float> x, ArrayView<float> h, MatShape shape,
        TFormat format)
        where TFormat : struct, IGpuBlockFormat
    {
        var shared = SharedMemory.Allocate<float>(QuantMatMulTiledKernel.SharedFloats);
        int token0 = Grid.IdxX * QuantMatMulTiledKernel.TileTokens;
        int tokens = XMath.Min(QuantMatMulTiledKernel.TileTokens, shape.Tokens - token0);
        int lane = Warp.LaneIdx;
        var rows = WarpRows.In(Grid.IdxY, shape.Rows);
        int parts = format.Parts;
        int partSize = shape.BlockSize / parts;
        int stride = QuantMatMulKernel.SharedStride(partSize);
        int tokenStride = QuantMatMulTiledKernel.TokenStride(partSize);
        int blocksPerChunk = QuantMatMulTiledKernel.ChunkValues / shape.BlockSize;
        var g0 = new TileDot(shared, tokenStride);
        var u0 = new TileDot(shared, tokenStride);
        var g1 = new TileDot(shared, tokenStride);
        var u1 = new TileDot(shared, tokenStride);
        for (int chunkBlock = 0; chunkBlock < shape.BlocksPerRow; chunkBlock += blocksPerChunk)
        {
            int blocks = XMath.Min(blocksPerChunk, shape.BlocksPerRow - chunkBlock);
            QuantMatMulTiledKernel.Stage(x, shape, token0, tokens, (long)chunkBlock * shape.BlockSize, blocks * shape.BlockSize, partSize,
                stride, tokenStride, shared);
            int units = blocks * parts;
            long block0 = (long)rows.Read0 * shape.BlocksPerRow + chunkBlock, block1 = (long)rows.Read1 * shape.BlocksPerRow + chunkBlock;
            for (int u = lane; u < units; u += Warp.WarpSize)
            {
                int b = u / parts, part = u - b * parts;
                long at = (long)u * stride;
                g0 = format.PartDotTile(gate, block0 + b, part, g0.At(at));
                u0 = format.PartDotTile(up, block0 + b, part, u0.At(at));
                g1 = format.PartDotTile(gate, block1 + b, part, g1.At(at));
                u1 = format.PartDotTile(up, block1 + b, part, u1.At(at));
            }
            Group.Barrier();
        }
        g0 = g0.Reduced();
        u0 = u0.Reduced();
        g1 = g1.Reduced();
        u1 = u1.Reduced();
        if (lane != 0) return;
        for (int t = 0; t < tokens; t++)
        {
            long hRow = (long)(token0 + t) * shape.YStride;
            if (rows.Row0 < shape.Rows) h[hRow + rows.Row0] = Silu(g0.Sum(t)) * u0.Sum(t);
            if (rows.Row1 < shape.Rows) h[hRow + rows.Row1] = Silu(g1.Sum(t)) * u1.Sum(t);
        }
    }

    private static float Silu(float g) => g / (1.0f + XMath.Exp(-g));
}
