using System.Text;
using HybridEngine.Quantization;

namespace HybridEngine.Gguf;

internal sealed unsafe partial class GgufParser
{
    /// <summary>ggml's GGML_MAX_NAME is 64 including the terminating NUL.</summary>
    private const int MaxTensorNameBytes = 63;

    private const int MaxDims = 4;

    /// <summary>A tensor info plus where its fields sit in the file, so later checks can point at them.</summary>
    private sealed record TensorRecord(GgufTensorInfo Info, long InfoPos, long DimsPos, long OffsetPos, long ByteSize);

    private TensorRecord ReadTensorInfo(long index)
    {
        long infoPos = _pos;
        _subject = $"the name of tensor info {index}";
        string name = ReadString(strict: true);
        if (name.Length == 0) throw Error(infoPos, $"tensor info {index} has an empty name");
        int nameBytes = Encoding.UTF8.GetByteCount(name);
        if (nameBytes > MaxTensorNameBytes)
        {
            throw Error(infoPos, $"tensor name {Quote(name)} is {nameBytes} bytes long, more than ggml's limit of {MaxTensorNameBytes}");
        }

        string tensor = $"tensor {Quote(name)}";
        _subject = $"the dimension count of {tensor}";
        long nDimsPos = _pos;
        uint nDims = ReadU32();
        if (nDims is < 1 or > MaxDims) throw Error(nDimsPos, $"{tensor} has {nDims} dimensions; 1 to {MaxDims} are allowed");

        _subject = $"the dimensions of {tensor}";
        long dimsPos = _pos;
        var shape = new long[nDims];
        for (int d = 0; d < nDims; d++)
        {
            long dimPos = _pos;
            shape[d] = ReadI64();
            if (shape[d] < 0) throw Error(dimPos, $"{tensor} has a negative dimension ne{d} = {shape[d]}");
        }

        _subject = $"the type of {tensor}";
        long typePos = _pos;
        uint typeId = ReadU32();
        if (!QuantTypes.TryGet(typeId, out var quant))
        {
            string known = Enum.IsDefined(typeof(GgmlType), typeId) ? $" ({(GgmlType)typeId})" : "";
            throw Error(typePos, $"{tensor} has ggml type id {typeId}{known}, which is not supported; supported types: {QuantTypes.SupportedNames()}");
        }
        if (shape[0] % quant.BlockSize != 0)
        {
            throw Error(dimsPos, $"{tensor} has row length {shape[0]}, which is not a multiple of {quant.Name}'s block size {quant.BlockSize}");
        }
        long byteSize = CheckedSize(shape, quant, tensor, dimsPos);

        _subject = $"the data offset of {tensor}";
        long offsetPos = _pos;
        ulong offset = ReadU64();
        return new TensorRecord(new GgufTensorInfo(name, shape, quant.Type, offset), infoPos, dimsPos, offsetPos, byteSize);
    }

    /// <summary>
    /// Bytes of the tensor, <c>ne1·ne2·ne3 · (ne0 / block) · bytesPerBlock</c> (SPEC 1.6). Element count, row count
    /// and byte size must each fit in an int64, as ggml requires; 128-bit intermediates make the check itself safe.
    /// </summary>
    private long CheckedSize(long[] shape, QuantTypeInfo quant, string tensor, long dimsPos)
    {
        Int128 rows = 1;
        for (int d = 1; d < shape.Length; d++)
        {
            rows *= shape[d];
            if (rows > long.MaxValue) throw Error(dimsPos, $"{tensor} has dimensions {Shape(shape)} whose product overflows a 64-bit count");
        }
        Int128 elements = rows * shape[0];
        Int128 bytes = rows * (shape[0] / quant.BlockSize * (Int128)quant.BytesPerBlock);
        if (elements > long.MaxValue || bytes > long.MaxValue)
        {
            throw Error(dimsPos, $"{tensor} has dimensions {Shape(shape)} whose product overflows a 64-bit count");
        }
        return (long)bytes;
    }

    /// <summary>Offsets must be aligned, data must lie inside the file, and no two tensors may share bytes.</summary>
    private void ValidateTensorData(List<TensorRecord> records, uint alignment, long dataOffset)
    {
        long dataBytes = Math.Max(0, _length - dataOffset);
        foreach (var r in records)
        {
            string tensor = $"tensor {Quote(r.Info.Name)}";
            if (r.Info.Offset % alignment != 0)
            {
                throw Error(r.OffsetPos, $"{tensor} has data offset {r.Info.Offset}, which is not a multiple of the alignment {alignment}");
            }
            if (r.Info.Offset > (ulong)dataBytes || r.ByteSize > dataBytes - (long)r.Info.Offset)
            {
                UInt128 start = (UInt128)dataOffset + r.Info.Offset;
                throw Error(r.OffsetPos, $"{tensor} needs bytes {start} to {start + (UInt128)r.ByteSize} of the file, but the file is only {_length} bytes long");
            }
        }

        // Sorted by offset, a tensor overlaps an earlier one exactly when it starts before the furthest end seen so far.
        var byOffset = records.Where(r => r.ByteSize > 0).OrderBy(r => r.Info.Offset).ToArray();
        TensorRecord? furthest = null;
        foreach (var r in byOffset)
        {
            if (furthest != null && (long)r.Info.Offset < (long)furthest.Info.Offset + furthest.ByteSize)
            {
                throw Error(r.OffsetPos, $"tensor {Quote(r.Info.Name)} (data offset {r.Info.Offset}, {r.ByteSize} bytes) overlaps tensor {Quote(furthest.Info.Name)} (data offset {furthest.Info.Offset}, {furthest.ByteSize} bytes)");
            }
            if (furthest == null || (long)r.Info.Offset + r.ByteSize > (long)furthest.Info.Offset + furthest.ByteSize) furthest = r;
        }
    }

    private static string Shape(long[] shape) => "{" + string.Join(", ", shape) + "}";
}
