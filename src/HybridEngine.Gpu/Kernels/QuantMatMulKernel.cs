using ILGPU;

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
}

/// <summary>
/// <c>y[t][n] = Σ_(b,p) PartDot(W[n] block b part p, x[t])</c> on raw GGUF blocks: the weights stay quantized in device memory
/// and are dequantized in registers (never uploaded as floats). CPU reference: <c>Kernels/MatMul.Run</c>; this kernel
/// keeps activations in float (the CPU path quantizes them to Q8_0/Q8_K first), so it matches the exact
/// dequantize-then-dot result to float rounding and the CPU path to its activation-quantization error.
/// </summary>
/// <remarks>
/// Launch: one group of one warp per (row, token) pair, grid = (Rows, Tokens). Lane i takes block parts i, i+warp, ...
/// so a warp reads consecutive bytes of one row together; lanes are summed by shuffle and lane 0 writes.
/// </remarks>
public static class QuantMatMulKernel
{
    public static void Run<TFormat>(ArrayView<byte> w, ArrayView<float> x, ArrayView<float> y, MatShape shape, TFormat format)
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
        float sum = 0;
        for (int u = lane; u < units; u += Group.DimX)
        {
            int b = u / parts, part = u - b * parts;
            sum += format.PartDot(w, firstBlock + b, part, x, xRow + (long)b * shape.BlockSize + (long)part * partSize);
        }
        sum = WarpSum.Reduce(sum);
        if (lane == 0) y[(long)token * shape.YStride + row] = sum;
    }
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
