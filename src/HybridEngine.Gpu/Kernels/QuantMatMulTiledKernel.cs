using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace HybridEngine.Gpu.Kernels;

/// <summary>
/// The matrix-matrix product of prefill, <c>y[t][n] = Σ_k dequant(W)[n][k] · x[t][k]</c> for many tokens t, on raw GGUF
/// blocks like <see cref="QuantMatMulKernel"/>, but each group covers a tile of <see cref="TileTokens"/> tokens: every
/// weight block part is read and decoded once per tile and each decoded value is multiplied with the tile's eight x
/// values (<see cref="IGpuBlockFormat.PartDotTile"/>, sums in registers: <see cref="TileDot"/>). The per-token kernel
/// decodes the same weights once per token, so a 512-token prompt reads and decodes them 512 times; here 64 times.
/// CPU reference: <c>Kernels/MatMul.Run</c> (or dequantize-then-dot, which the tests use).
/// </summary>
/// <remarks>
/// Launch (<see cref="Config"/>): grid = (⌈Tokens / TileTokens⌉, ⌈Rows / RowsPerGroup⌉, Heads), a group of
/// <see cref="QuantMatMulKernel.WarpsPerGroup"/> warps per (token tile, 8 rows), each warp owning two rows as in the
/// per-token kernel. Token tiles are grid dimension X, the fastest-varying, so the groups in flight at one time share a
/// few row groups: a weight row comes from DRAM once and the other tiles that need it find it in L2, while x (a few MiB
/// even for a long prompt) stays in L2 throughout.
/// <para>
/// x goes through shared memory in chunks of <see cref="ChunkValues"/> per token, all eight tokens at once, each token's
/// chunk laid out as in the per-token kernel (part u at u·stride, stride = partSize | 1, so the warp's 32 lanes read 32
/// banks) and the tokens <c>tokenStride</c> floats apart. Shared memory holds 8 × 1024 values (about 36 KiB with the
/// padding): 1024 rather than the per-token kernel's 2048 so the tile fits under the 48 KiB a group may allocate
/// statically, and still 32 parts per row for the formats of 32-value parts, one per lane. Tokens past the end of
/// the last tile read as zeros and their sums are not written; rows past the end repeat a valid row (<see cref="WarpRows"/>).
/// Each lane holds 2 rows × 8 tokens of sums; the warp reduces them by shuffle and lane 0 writes the tile.
/// </para>
/// Inputs and outputs may be strided (<see cref="MatShape.XStride"/>, <see cref="MatShape.YStride"/>) and heads stacked
/// (<see cref="MatShape.Heads"/>) as in the per-token kernel.
/// </remarks>
public static class QuantMatMulTiledKernel
{
    public const int TileTokens = TileDot.Tokens;

    /// <summary>x values per token per shared-memory chunk: a multiple of every block size (1, 32, 256).</summary>
    public const int ChunkValues = 1024;

    /// <summary>
    /// Shared floats of one token's padded chunk: (ChunkValues / partSize)·(partSize | 1) is at most 9/8·ChunkValues
    /// for the part sizes the formats use (1, 8, 16, 32 values).
    /// </summary>
    public const int TokenFloats = ChunkValues * 9 / 8;

    public const int SharedFloats = TileTokens * TokenFloats;

    /// <summary>Shared floats between consecutive tokens' chunks for parts of <paramref name="partSize"/> values.</summary>
    public static int TokenStride(int partSize) => ChunkValues / partSize * QuantMatMulKernel.SharedStride(partSize);

    /// <summary>The launch for <paramref name="shape"/> on a device with warps of <paramref name="warpSize"/> lanes.</summary>
    public static KernelConfig Config(in MatShape shape, int warpSize) =>
        new(new Index3D((shape.Tokens + TileTokens - 1) / TileTokens, (shape.Rows + QuantMatMulKernel.RowsPerGroup - 1) / QuantMatMulKernel.RowsPerGroup,
            Math.Max(shape.Heads, 1)), new Index3D(QuantMatMulKernel.WarpsPerGroup * warpSize, 1, 1));

    public static void Run<TFormat>(ArrayView<byte> w, ArrayView<float> x, ArrayView<float> y, MatShape shape, TFormat format)
        where TFormat : struct, IGpuBlockFormat
    {
        var shared = SharedMemory.Allocate<float>(SharedFloats);
        int token0 = Grid.IdxX * TileTokens;
        int tokens = XMath.Min(TileTokens, shape.Tokens - token0);
        int lane = Warp.LaneIdx;
        var rows = WarpRows.In(Grid.IdxY, shape.Rows);
        // Stacked heads (MatShape.Heads > 1): head h's matrix is rows h·Rows .. of the stack, its x and y offset by h.
        int head = Grid.IdxZ;
        long read0 = (long)head * shape.Rows + rows.Read0, read1 = (long)head * shape.Rows + rows.Read1;
        long xHead = (long)head * shape.XHeadStride, yHead = (long)head * shape.YHeadStride;
        int parts = format.Parts;
        int partSize = shape.BlockSize / parts;
        int stride = QuantMatMulKernel.SharedStride(partSize);
        int tokenStride = TokenStride(partSize);
        int blocksPerChunk = ChunkValues / shape.BlockSize;
        var dot0 = new TileDot(shared, tokenStride);
        var dot1 = new TileDot(shared, tokenStride);
        for (int chunkBlock = 0; chunkBlock < shape.BlocksPerRow; chunkBlock += blocksPerChunk)
        {
            int blocks = XMath.Min(blocksPerChunk, shape.BlocksPerRow - chunkBlock);
            Stage(x, shape, token0, tokens, xHead + (long)chunkBlock * shape.BlockSize, blocks * shape.BlockSize, partSize, stride, tokenStride, shared);
            int units = blocks * parts;
            long block0 = read0 * shape.BlocksPerRow + chunkBlock, block1 = read1 * shape.BlocksPerRow + chunkBlock;
            for (int u = lane; u < units; u += Warp.WarpSize)
            {
                int b = u / parts, part = u - b * parts;
                long at = (long)u * stride;
                dot0 = format.PartDotTile(w, block0 + b, part, dot0.At(at));
                dot1 = format.PartDotTile(w, block1 + b, part, dot1.At(at));
            }
            Group.Barrier();
        }
        dot0 = dot0.Reduced();
        dot1 = dot1.Reduced();
        if (lane != 0) return;
        for (int t = 0; t < tokens; t++)
        {
            long yRow = (long)(token0 + t) * shape.YStride + yHead;
            if (rows.Row0 < shape.Rows) y[yRow + rows.Row0] = dot0.Sum(t);
            if (rows.Row1 < shape.Rows) y[yRow + rows.Row1] = dot1.Sum(t);
        }
    }

    /// <summary>
    /// Copies <paramref name="values"/> floats from offset <paramref name="offset"/> of each of the tile's tokens into
    /// shared memory (token t at t·tokenStride, part u at u·stride) with the whole group, zeros for tokens past the end,
    /// then waits at the group barrier.
    /// </summary>
    public static void Stage(ArrayView<float> x, MatShape shape, int token0, int tokens, long offset, int values, int partSize,
        int stride, int tokenStride, ArrayView<float> shared)
    {
        for (int t = 0; t < TileTokens; t++)
        {
            // A token past the end reads the last token's (valid) addresses and stores zero: no load is ever out of bounds,
            // whether or not the compiler turns the choice into a select.
            long xStart = (long)(token0 + XMath.Min(t, tokens - 1)) * shape.XStride + offset;
            for (int i = Group.IdxX; i < values; i += Group.DimX)
            {
                int unit = i / partSize;
                float value = x[xStart + i];
                shared[t * tokenStride + unit * stride + (i - unit * partSize)] = t < tokens ? value : 0f;
            }
        }
        Group.Barrier();
    }
}
