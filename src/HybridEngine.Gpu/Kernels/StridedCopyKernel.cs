using ILGPU;

namespace HybridEngine.Gpu.Kernels;

/// <summary>Layout of one strided copy, passed by value.</summary>
public struct CopyShape
{
    public int Width;
    public int SourceStride;
    public int SourceOffset;
    public int DestinationStride;
    public int DestinationOffset;
}

/// <summary>
/// <c>dst[r·DestinationStride + DestinationOffset + i] = src[r·SourceStride + SourceOffset + i]</c> for i &lt; Width:
/// moves one slice of every row (MLA's roped query part into the absorbed query) without leaving the device.
/// CPU reference: <c>Span.CopyTo</c> per row. Launch: index = (row, i).
/// </summary>
public static class StridedCopyKernel
{
    public static void Run(Index2D index, ArrayView<float> source, ArrayView<float> destination, CopyShape shape)
    {
        long row = index.X;
        destination[row * shape.DestinationStride + shape.DestinationOffset + index.Y] = source[row * shape.SourceStride + shape.SourceOffset + index.Y];
    }
}
