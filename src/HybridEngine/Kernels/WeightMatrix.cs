using HybridEngine.Kernels.Dot;
using HybridEngine.Quantization;

namespace HybridEngine.Kernels;

/// <summary>
/// A weight matrix as raw GGUF bytes: <see cref="Rows"/> rows (ggml ne[1]) of <see cref="RowLength"/> values (ne[0]),
/// each row <see cref="RowBytes"/> bytes of whole blocks, rows back to back. The memory is owned elsewhere
/// (a memory-mapped file or pinned buffer) and must stay put while the struct is in use.
/// </summary>
public readonly unsafe struct WeightMatrix
{
    public WeightMatrix(byte* data, GgmlType type, int rows, int rowLength)
    {
        var info = QuantTypes.Get(type);
        if (!DotKernels.IsSupported(type)) throw new NotSupportedException(
            $"No CPU dot kernel for weight type {info.Name}; supported: {string.Join(", ", DotKernels.SupportedTypes)}.");
        if (rows < 0 || rowLength <= 0 || rowLength % info.BlockSize != 0)
            throw new ArgumentException($"A {info.Name} row of {rowLength} values is not a whole number of {info.BlockSize}-value blocks.");
        Data = data;
        Type = type;
        Rows = rows;
        RowLength = rowLength;
        RowBytes = info.RowBytes(rowLength);
        BlocksPerRow = rowLength / info.BlockSize;
        DotType = info.DotType;
    }

    public byte* Data { get; }
    public GgmlType Type { get; }
    public int Rows { get; }
    public int RowLength { get; }
    public long RowBytes { get; }
    public int BlocksPerRow { get; }

    /// <summary>The activation type this weight type's dot product pairs with.</summary>
    public GgmlType DotType { get; }

    public long TotalBytes => RowBytes * Rows;

    public byte* Row(int row) => Data + row * RowBytes;
}
