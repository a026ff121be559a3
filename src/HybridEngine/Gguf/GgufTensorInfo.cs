using HybridEngine.Quantization;

namespace HybridEngine.Gguf;

/// <summary>
/// One tensor record. <see cref="Shape"/> is in ggml order: Shape[0] (ne0) is the contiguous row length (SPEC 1.8).
/// <see cref="Offset"/> is relative to the start of the data section.
/// </summary>
public sealed record GgufTensorInfo(string Name, long[] Shape, GgmlType Type, ulong Offset)
{
    public long RowLength => Shape[0];
    public long Rows => Shape.Skip(1).Aggregate(1L, (a, b) => a * b);
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public long RowBytes => QuantTypes.Get(Type).RowBytes(RowLength);
    public long ByteSize => RowBytes * Rows;
    public string ShapeText => "{" + string.Join(", ", Shape) + "}";
}
