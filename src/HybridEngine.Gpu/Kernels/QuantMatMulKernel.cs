using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace HybridEngine.Gpu.Kernels;

/// <summary>Shape of one matrix product, passed by value to the kernel.</summary>
public struct MatShape
{
    public int Rows;
    public int RowLength;
    public int BlocksPerRow;
    public int BlockSize;
    public int Tokens;
    /// <summary>Distance between consecutive tokens' inputs in x (RowLength for packed rows; wider for one head of many).</summary>
    public int XStride;
    /// <summary>Distance between consecutive tokens' outputs in y (Rows for packed rows).</summary>
    public int YStride;
    /// <summary>
    /// Matrices stacked head after head in w (head h's rows start at block h·Rows·BlocksPerRow), each applied to its own
    /// slice of every token: one launch for all heads (both the per-token and the tiled kernel). 0 or 1: one matrix,
    /// exactly the plain product.
    /// </summary>
    public int Heads;
    /// <summary>Distance between consecutive heads' inputs within a token's x (unused with one head).</summary>
    public int XHeadStride;
    /// <summary>Distance between consecutive heads' outputs within a token's y (unused with one head).</summary>
    public int YHeadStride;
}

/// <summary>
/// <c>y[t][n] = Σ_(b,p) PartDot(W[n] block b part p, x[t])</c> (with <see cref="MatShape.Heads"/> &gt; 1:
/// <c>y[t][h·YHeadStride + n] = Σ PartDot(W_h[n] …, x[t][h·XHeadStride ..])</c>) on raw GGUF blocks: the weights stay quantized in device memory
/// and are dequantized in registers (never uploaded as floats). CPU reference: <c>Kernels/MatMul.Run</c>; this kernel
/// keeps activations in float (the CPU path quantizes them to Q8_0/Q8_K first), so it matches the exact
/// dequantize-then-dot result to float rounding and the CPU path to its activation-quantization error.
/// </summary>
/// <remarks>
/// Launch (<see cref="Config"/>): a group of <see cref="WarpsPerGroup"/> warps per <see cref="RowsPerGroup"/> rows of
/// one token and head, grid = (⌈Rows / RowsPerGroup⌉, Tokens, Heads); each warp owns <see cref="RowsPerWarp"/> rows. The token's x
/// goes through shared memory in chunks of <see cref="ChunkValues"/>: the group loads a chunk once with coalesced
/// reads (consecutive threads, consecutive floats) and every row of the group reads it from there, so x's global
/// traffic is divided by RowsPerGroup. A part's values sit at an odd stride (partSize | 1) in shared memory, so the
/// 32 lanes reading "their" part at the same step hit 32 different banks. Within a chunk lane i takes block parts
/// i, i+warp, ... of each of its rows (neighbouring lanes, neighbouring bytes of a row); the rows' independent sums
/// also keep more loads in flight per lane. Lanes are summed by shuffle and lane 0 writes.
/// </remarks>
public static class QuantMatMulKernel
{
    public const int WarpsPerGroup = 4;
    public const int RowsPerWarp = 2;
    public const int RowsPerGroup = WarpsPerGroup * RowsPerWarp;

    /// <summary>x values per shared-memory chunk: a multiple of every block size (1, 32, 256).</summary>
    public const int ChunkValues = 2048;

    // Padded chunk: parts of ≥ 2 values take partSize | 1 ≤ 1.5·partSize slots; 1-value parts take 1.
    public const int SharedFloats = ChunkValues * 3 / 2;

    /// <summary>
    /// Copies x[xStart ..] (<paramref name="values"/> floats) into shared memory, part u at u·stride, with the whole
    /// group (consecutive threads, consecutive floats), then waits at the group barrier so every warp sees it.
    /// </summary>
    public static void Stage(ArrayView<float> x, long xStart, int values, int partSize, int stride, ArrayView<float> shared)
    {
        for (int i = Group.IdxX; i < values; i += Group.DimX)
        {
            int unit = i / partSize;
            shared[unit * stride + (i - unit * partSize)] = x[xStart + i];
        }
        Group.Barrier();
    }

    /// <summary>Shared-memory distance between consecutive parts of <paramref name="partSize"/> values (odd, to spread banks).</summary>
    public static int SharedStride(int partSize) => partSize == 1 ? 1 : partSize | 1;

    /// <summary>The launch for <paramref name="shape"/> on a device with warps of <paramref name="warpSize"/> lanes.</summary>
    public static KernelConfig Config(in MatShape shape, int warpSize) =>
        new(new Index3D((shape.Rows + RowsPerGroup - 1) / RowsPerGroup, shape.Tokens, Math.Max(shape.Heads, 1)),
            new Index3D(WarpsPerGroup * warpSize, 1, 1));

    public static void Run<TFormat>(ArrayView<byte> w, ArrayView<float> x, ArrayView<float> y, MatShape shape, TFormat format)
        where TFormat : struct, IGpuBlockFormat
    {
        var shared = SharedMemory.Allocate<float>(SharedFloats);
        int token = Grid.IdxY, head = Grid.IdxZ;
        int lane = Warp.LaneIdx;
        var rows = WarpRows.Of(shape.Rows);
        int row0 = rows.Row0, row1 = rows.Row1;
        // Head h's matrix follows the h before it: its rows are rows h·Rows .. of the stack.
        long read0 = (long)head * shape.Rows + rows.Read0, read1 = (long)head * shape.Rows + rows.Read1;
        long xRow = (long)token * shape.XStride + (long)head * shape.XHeadStride;
        long yRow = (long)token * shape.YStride + (long)head * shape.YHeadStride;
        int parts = format.Parts;
        int partSize = shape.BlockSize / parts;
        int stride = SharedStride(partSize);
        int blocksPerChunk = ChunkValues / shape.BlockSize;
        float sum0 = 0, sum1 = 0;
        for (int chunkBlock = 0; chunkBlock < shape.BlocksPerRow; chunkBlock += blocksPerChunk)
        {
            int blocks = XMath.Min(blocksPerChunk, shape.BlocksPerRow - chunkBlock);
            int values = blocks * shape.BlockSize;
            Stage(x, xRow + (long)chunkBlock * shape.BlockSize, values, partSize, stride, shared);
            int units = blocks * parts;
            long block0 = read0 * shape.BlocksPerRow + chunkBlock, block1 = read1 * shape.BlocksPerRow + chunkBlock;
            for (int u = lane; u < units; u += Warp.WarpSize)
            {
                int b = u / parts, part = u - b * parts;
                sum0 += format.PartDot(w, block0 + b, part, shared, (long)u * stride);
                sum1 += format.PartDot(w, block1 + b, part, shared, (long)u * stride);
            }
            Group.Barrier();
        }
        sum0 = WarpSum.Reduce(sum0);
        sum1 = WarpSum.Reduce(sum1);
        if (lane == 0)
        {
            if (row0 < shape.Rows) y[yRow + row0] = sum0;
            if (row1 < shape.Rows) y[yRow + row1] = sum1;
        }
    }
}

/// <summary>
/// The <see cref="QuantMatMulKernel.RowsPerWarp"/> (two) rows the calling warp owns, and the rows it reads: rows past the
/// end repeat a valid row (reads stay in bounds, barriers stay uniform) and are not written.
/// </summary>
public readonly struct WarpRows
{
    public readonly int Row0, Row1, Read0, Read1;

    private WarpRows(int row0, int rows)
    {
        Row0 = row0;
        Row1 = row0 + 1;
        Read0 = Row0 < rows ? Row0 : rows - 1;
        Read1 = Row1 < rows ? Row1 : rows - 1;
    }

    /// <summary>The calling warp's rows when grid dimension X numbers the row groups.</summary>
    public static WarpRows Of(int rows) => In(Grid.IdxX, rows);

    /// <summary>The calling warp's rows in row group <paramref name="rowGroup"/> (of RowsPerGroup rows).</summary>
    public static WarpRows In(int rowGroup, int rows) =>
        new(rowGroup * QuantMatMulKernel.RowsPerGroup + Warp.WarpIdx * QuantMatMulKernel.RowsPerWarp, rows);
}

/// <summary>Sum over the lanes of one warp by shuffles (tree order: not bit-identical to a sequential sum).</summary>
public static class WarpSum
{
    public static float Reduce(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
            value += Warp.ShuffleDown(value, offset);
        return value;
    }

    public static float Max(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
            value = XMathMax(value, Warp.ShuffleDown(value, offset));
        return value;
    }

    private static float XMathMax(float a, float b) => a > b ? a : b;
}
