using System.Buffers;
using System.Globalization;
using HybridEngine.Gguf;
using HybridEngine.Quantization;

namespace HybridEngine.Models.Synthetic;

/// <summary>One tensor of a synthetic file with the type it is stored in.</summary>
public sealed record PlannedTensor(SyntheticTensor Tensor, GgmlType Type)
{
    public long Bytes => GgufWriter.TensorBytes(Type, Tensor.Shape);
}

/// <summary>
/// Writes a seeded synthetic model through <see cref="GgufWriter"/>: general keys, the architecture's keys, the
/// vocabulary, then every tensor generated and quantized row by row in bounded chunks (never the whole model in
/// memory). Same spec and options give the same bytes.
/// </summary>
public static class SyntheticWriter
{
    /// <summary>Output bytes generated per chunk before it is written (bounds memory for multi-GB files).</summary>
    private const int ChunkBytes = 8 << 20;

    /// <summary>
    /// The stored type of a tensor for a requested file type (SPEC 2.10/2.11): 1-D tensors, routers and biases stay
    /// F32; Q4_K needs rows that divide by 256, else Q5_0; Q5_0 and Q8_0 need rows that divide by 32, else F16.
    /// </summary>
    public static GgmlType StorageType(SyntheticTensor tensor, GgmlType requested)
    {
        if (tensor.AlwaysF32) return GgmlType.F32;
        long n = tensor.RowLength;
        return requested switch
        {
            GgmlType.F32 or GgmlType.F16 => requested,
            GgmlType.Q4_K when n % 256 == 0 => GgmlType.Q4_K,
            GgmlType.Q4_K or GgmlType.Q8_0 when n % 32 == 0 => requested == GgmlType.Q4_K ? GgmlType.Q5_0 : GgmlType.Q8_0,
            GgmlType.Q4_K or GgmlType.Q8_0 => GgmlType.F16,
            _ => throw new NotSupportedException($"type {requested} cannot be written; supported: {string.Join(", ", SyntheticModels.Types.Select(t => t.Name))}"),
        };
    }

    /// <summary>Every tensor of the model with its stored type, in file order (no data is made).</summary>
    public static IReadOnlyList<PlannedTensor> Plan(SyntheticModelSpec spec, SyntheticOptions options)
    {
        var arch = SyntheticModels.Architecture(spec.Arch);
        arch.Validate(spec, options);
        int vocab = arch.Vocab(spec).Count;
        return arch.Tensors(spec, options, vocab).Select(t => new PlannedTensor(t, StorageType(t, options.Type))).ToList();
    }

    /// <summary>Builds the writer; its tensor callbacks generate data only when <see cref="GgufWriter.WriteTo(string)"/> runs.</summary>
    public static GgufWriter Build(SyntheticModelSpec spec, SyntheticOptions options)
    {
        var arch = SyntheticModels.Architecture(spec.Arch);
        arch.Validate(spec, options);
        var vocab = arch.Vocab(spec);
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.String(arch.GgufArchitecture));
        writer.Add("general.type", GgufValue.String("model"));
        writer.Add("general.name", GgufValue.String($"synthetic-{spec.Arch}-{spec.Preset}"));
        writer.Add("general.description", GgufValue.String(string.Create(CultureInfo.InvariantCulture,
            $"Synthetic random weights (seed {options.Seed}, skew {options.Skew}, groups {options.Groups}, layout {options.Layout}) with a small synthetic vocabulary; not a trained model.")));
        writer.Add("general.file_type", GgufValue.UInt32(SyntheticModels.FileType(options.Type)));
        writer.Add("general.quantization_version", GgufValue.UInt32(2));
        arch.AddMetadata(writer, spec, options, vocab.Count);
        vocab.AddTo(writer);

        var weights = new SyntheticWeights(spec, options, arch.FoldsRouterBias);
        foreach (var tensor in arch.Tensors(spec, options, vocab.Count))
        {
            var type = StorageType(tensor, options.Type);
            writer.AddTensor(tensor.Name, type, tensor.Shape, stream => WriteTensor(stream, weights.For(tensor), tensor, type));
        }
        return writer;
    }

    public static void Write(SyntheticModelSpec spec, SyntheticOptions options, string path) => Build(spec, options).WriteTo(path);

    private static void WriteTensor(Stream stream, SyntheticWeights.RowSource source, SyntheticTensor tensor, GgmlType type)
    {
        var info = QuantTypes.Get(type);
        var quantize = info.Quantize ?? throw new NotSupportedException($"quantization to {info.Name} is not available");
        int rowLength = checked((int)tensor.RowLength);
        int rowBytes = checked((int)info.RowBytes(rowLength));
        long rows = tensor.Rows;
        int chunkRows = (int)Math.Clamp(ChunkBytes / rowBytes, 1, rows);
        byte[] chunk = ArrayPool<byte>.Shared.Rent(chunkRows * rowBytes);
        try
        {
            for (long first = 0; first < rows; first += chunkRows)
            {
                int count = (int)Math.Min(chunkRows, rows - first);
                Parallel.For(0, count,
                    () => new float[rowLength],
                    (i, _, row) =>
                    {
                        source.FillRow(first + i, row);
                        quantize(row, chunk.AsSpan(i * rowBytes, rowBytes));
                        return row;
                    },
                    _ => { });
                stream.Write(chunk, 0, count * rowBytes);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
